# Turn a text file into a C string: cmake -DIN=f -DOUT=f.c -DSYMBOL=name -P embed.cmake
file(READ ${IN} text HEX)
string(LENGTH "${text}" n)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${text}")
file(WRITE ${OUT} "/* Generated from ${IN}; do not edit. */\n#include <stddef.h>\n"
  "const char ${SYMBOL}[] = {${bytes}0x00};\n"
  "const size_t ${SYMBOL}_len = sizeof(${SYMBOL}) - 1;\n")

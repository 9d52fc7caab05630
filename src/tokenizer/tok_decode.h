#ifndef ZMLX_TOKENIZER_DECODE_H
#define ZMLX_TOKENIZER_DECODE_H
/* Internal: decoding into a reusable buffer (the stream decodes often). */
#include "tokenizer/tok_internal.h"

/* ids -> text in *res (replacing its contents; NUL-terminated past len). */
zmlx_status ztok_decode_buf(const zmlx_tokenizer *t, const int32_t *ids, int64_t n, int flags,
                            ztok_buf *res);

#endif

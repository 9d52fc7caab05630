/* Subcommands of the zmlx tool. Each gets argv with argv[0] naming the
 * subcommand and returns the process exit status (2: usage error).
 * Prototypes only (repeating one is harmless, so there is no include
 * guard): append one line per subcommand. */

int zmlx_cmd_cache(int argc, char **argv);
int zmlx_cmd_doctor(int argc, char **argv);
int zmlx_cmd_bench(int argc, char **argv);
int zmlx_cmd_report(int argc, char **argv);
int zmlx_cmd_kernels(int argc, char **argv);
int zmlx_cmd_inspect(int argc, char **argv);
int zmlx_cmd_tokenize(int argc, char **argv);

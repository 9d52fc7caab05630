#include "zmlx/status.h"

const char *zmlx_status_name(zmlx_status s) {
  switch (s) {
#define X(name, value, msg) \
  case ZMLX_STATUS_##name:  \
    return "ZMLX_STATUS_" #name;
#include "zmlx/status_list.h"
#undef X
  }
  return "ZMLX_STATUS_UNKNOWN";
}

const char *zmlx_status_message(zmlx_status s) {
  switch (s) {
#define X(name, value, msg) \
  case ZMLX_STATUS_##name:  \
    return msg;
#include "zmlx/status_list.h"
#undef X
  }
  return "unknown status code";
}

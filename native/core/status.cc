#include "core/status.h"

namespace tidelog {

const char* CodeName(Code code) {
  switch (code) {
#define TIDELOG_CASE(name, str) \
  case Code::name:              \
    return str;
    TIDELOG_STATUS_CODES(TIDELOG_CASE)
#undef TIDELOG_CASE
  }
  return "UNKNOWN";
}

}  // namespace tidelog

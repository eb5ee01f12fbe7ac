// Big-endian loads and stores on unaligned bytes (Kafka's byte order).
#pragma once

#include <cstdint>
#include <cstring>

namespace tidelog {

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
inline uint16_t ToBE16(uint16_t v) { return v; }
inline uint32_t ToBE32(uint32_t v) { return v; }
inline uint64_t ToBE64(uint64_t v) { return v; }
#else
inline uint16_t ToBE16(uint16_t v) { return __builtin_bswap16(v); }
inline uint32_t ToBE32(uint32_t v) { return __builtin_bswap32(v); }
inline uint64_t ToBE64(uint64_t v) { return __builtin_bswap64(v); }
#endif

inline uint16_t LoadU16(const uint8_t* p) { uint16_t v; std::memcpy(&v, p, 2); return ToBE16(v); }
inline uint32_t LoadU32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return ToBE32(v); }
inline uint64_t LoadU64(const uint8_t* p) { uint64_t v; std::memcpy(&v, p, 8); return ToBE64(v); }
inline int16_t LoadI16(const uint8_t* p) { return static_cast<int16_t>(LoadU16(p)); }
inline int32_t LoadI32(const uint8_t* p) { return static_cast<int32_t>(LoadU32(p)); }
inline int64_t LoadI64(const uint8_t* p) { return static_cast<int64_t>(LoadU64(p)); }

inline void StoreU16(uint8_t* p, uint16_t v) { v = ToBE16(v); std::memcpy(p, &v, 2); }
inline void StoreU32(uint8_t* p, uint32_t v) { v = ToBE32(v); std::memcpy(p, &v, 4); }
inline void StoreU64(uint8_t* p, uint64_t v) { v = ToBE64(v); std::memcpy(p, &v, 8); }
inline void StoreI32(uint8_t* p, int32_t v) { StoreU32(p, static_cast<uint32_t>(v)); }
inline void StoreI64(uint8_t* p, int64_t v) { StoreU64(p, static_cast<uint64_t>(v)); }

}  // namespace tidelog

// CRC-32C (Castagnoli), the checksum of Kafka's RecordBatch v2.
//
// Extend() picks the fastest implementation once per process: the SSE4.2 crc32
// instruction on x86-64, the ARMv8 CRC extension on aarch64, otherwise a
// portable slicing-by-8 table. All three are exposed so tests can check each
// against known vectors (CRC-32C("123456789") = 0xE3069283).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tidelog {
namespace crc32c {

// Returns the CRC-32C of concat(A, data[0, n)) where init_crc is the CRC-32C of A.
uint32_t Extend(uint32_t init_crc, const uint8_t* data, size_t n);
inline uint32_t Value(const uint8_t* data, size_t n) { return Extend(0, data, n); }

uint32_t ExtendPortable(uint32_t init_crc, const uint8_t* data, size_t n);
// Returns false (and leaves *out alone) when the CPU lacks the instruction.
bool ExtendHardware(uint32_t init_crc, const uint8_t* data, size_t n, uint32_t* out);
bool HardwareAvailable();

}  // namespace crc32c
}  // namespace tidelog

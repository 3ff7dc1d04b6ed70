// Behavioural PCU functional unit: the DPI-C function behind rdu_sim_fu.sv (Verilator only).
//
// rdu_sim_fu_eval(built, op, a, b, c, frac) returns what the gate-level LaneFU (tiles/pcu_fu.py)
// returns for opcode `op` (tiles/pcu_isa.py Op) on the 32-bit operands, bit for bit, following
// the numerics contract of hw/numerics.py (docs/architecture.md §4):
//
//   * fp32: subnormal inputs read as signed zeros, results below 2**-126 flushed to a signed
//     zero (tininess before rounding), round to nearest even, every NaN the canonical 0x7FC00000,
//     max/min as IEEE 754-2019 maximum/minimum, fma unfused (product rounded, then the sum);
//   * bf16 by the integer rounding rule on the encoding; casts truncate / saturate (NaN -> 0);
//   * exp2 and reciprocal by the integer table-interpolation algorithms of hw/numerics.py, with
//     the tables of rdu_sim_fu_gen.h, which tiles/pcu_simfu.py generates from hw.numerics at
//     generation time (they are declared once, in Python);
//   * integers wrap or saturate as the opcode says; fxmul rounds half up and saturates;
//   * an opcode whose operator class is not built (`built`, RDU_BUILT_* bits) returns 0, and
//     without the multiplier (RDU_BUILT_MUL clear: a PCU's scan carry unit with loop_mul off)
//     the multiplier's opcodes return 0 (the assembler never lets them reach such a unit; the
//     gate unit returns unspecified values there).
//
// fp32 add and multiply use the host's IEEE binary32/binary64 arithmetic: an fp32 sum rounded
// by the FPU is the correctly rounded sum, and a product of two fp32 values is exact in binary64,
// so rounding it once to binary32 is correct — the same reasoning as hw/numerics.py. The flushes
// around them make the result independent of the FPU's own denormal modes.
//
// The function is pure (no state): the SV module keeps the latency delay line.

#include <cmath>
#include <cstdint>
#include <cstring>

#include "rdu_sim_fu_gen.h"

namespace {

using u32 = uint32_t;
using i32 = int32_t;
using u64 = uint64_t;
using i64 = int64_t;

constexpr u32 SIGN = 0x80000000u;
constexpr u32 EXP = 0x7F800000u;
constexpr u32 MANT = 0x007FFFFFu;
constexpr u32 INF = 0x7F800000u;
constexpr u32 NAN_ = RDU_FP32_CANONICAL_NAN;

inline bool is_nan(u32 u) { return (u & EXP) == EXP && (u & MANT) != 0; }

// the input rule: subnormals -> zero of the same sign, NaN -> canonical (numerics.ftz)
inline u32 ftz(u32 u) {
    if ((u & EXP) == 0) return u & SIGN;
    if (is_nan(u)) return NAN_;
    return u;
}

inline float as_float(u32 u) {
    float x;
    std::memcpy(&x, &u, sizeof x);
    return x;
}

inline u32 as_bits(float x) {
    u32 u;
    std::memcpy(&u, &x, sizeof u);
    return u;
}

inline u32 sat32(i64 v) {
    if (v > INT32_MAX) return static_cast<u32>(INT32_MAX);
    if (v < INT32_MIN) return static_cast<u32>(INT32_MIN);
    return static_cast<u32>(static_cast<i32>(v));
}

inline i64 s(u32 u) { return static_cast<i32>(u); }

// numerics.fp32_add: a sum below 2**-126 is exactly a subnormal, so flushing after the FPU's
// rounding equals flushing the exact sum
u32 fp32_add(u32 a, u32 b) {
    return ftz(as_bits(as_float(ftz(a)) + as_float(ftz(b))));
}

// numerics.fp32_mul: the exact product in binary64, tininess before rounding, one rounding
u32 fp32_mul(u32 a, u32 b) {
    a = ftz(a);
    b = ftz(b);
    const double p = static_cast<double>(as_float(a)) * static_cast<double>(as_float(b));
    if (std::fabs(p) < 0x1p-126) return (a ^ b) & SIGN;    // also exact zeros
    return ftz(as_bits(static_cast<float>(p)));              // NaN canonical; overflow -> inf
}

// monotone key of a non-NaN encoding: -0 just below +0 (numerics._total_key)
inline i64 total_key(u32 u) {
    return (u & SIGN) ? -static_cast<i64>(u & 0x7FFFFFFFu) - 1 : static_cast<i64>(u);
}

u32 fp32_max(u32 a, u32 b) {
    a = ftz(a);
    b = ftz(b);
    if (is_nan(a) || is_nan(b)) return NAN_;
    return total_key(a) >= total_key(b) ? a : b;
}

u32 fp32_min(u32 a, u32 b) {
    a = ftz(a);
    b = ftz(b);
    if (is_nan(a) || is_nan(b)) return NAN_;
    return total_key(a) <= total_key(b) ? a : b;
}

// IEEE compares of the flushed values: -0 == +0, NaN compares false
u32 fp32_lt(u32 a, u32 b) { return as_float(ftz(a)) < as_float(ftz(b)) ? 1u : 0u; }
u32 fp32_eq(u32 a, u32 b) { return as_float(ftz(a)) == as_float(ftz(b)) ? 1u : 0u; }

// numerics.bf16_from_fp32: (u + 0x7FFF + ((u >> 16) & 1)) >> 16, then flush; NaN -> 0x7FC0
u32 bf16_from_fp32(u32 a) {
    const u64 u = ftz(a);
    if (is_nan(static_cast<u32>(u))) return RDU_BF16_CANONICAL_NAN;
    u32 r = static_cast<u32>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
    if ((r & 0x7F80u) == 0) r &= 0x8000u;
    return r & 0xFFFFu;
}

u32 fp32_from_bf16(u32 a) { return ftz((a & 0xFFFFu) << 16); }

// numerics.fp32_from_int: one rounding (to nearest even) of the int32
u32 fp32_from_int(u32 a) { return as_bits(static_cast<float>(static_cast<i32>(a))); }

// numerics.int_from_fp32: truncate toward zero, saturate, NaN -> 0
u32 int_from_fp32(u32 a) {
    a = ftz(a);
    if (is_nan(a)) return 0;
    const double x = as_float(a);
    if (x >= 2147483648.0) return static_cast<u32>(INT32_MAX);
    if (x <= -2147483648.0) return static_cast<u32>(INT32_MIN);
    return static_cast<u32>(static_cast<i32>(x));
}

// numerics.exp2: table + linear interpolation, integer steps only
u32 exp2_table(u32 a) {
    const i64 u = ftz(a);
    const i64 sign = (u >> 31) & 1;
    const i64 e = (u >> 23) & 0xFF;
    const i64 mant = (u & 0x7FFFFF) | (e == 0 ? 0 : (i64{1} << 23));
    if (e == 255 && (u & 0x7FFFFF) != 0) return NAN_;
    if (sign == 0 && e >= 134) return INF;                                   // x >= 128
    if (sign == 1 && (e > 133 || (e == 133 && (u & 0x7FFFFF) > 0x7C0000))) return 0;  // x < -126
    // xf = floor(x * 2**23), exactly, from the encoding
    const i64 sh = e - 127;
    i64 mag;
    bool exact;
    if (sh >= 0) {
        mag = mant << (sh < 8 ? sh : 8);
        exact = true;
    } else {
        const i64 r = -sh < 63 ? -sh : 63;
        mag = mant >> r;
        exact = (static_cast<u64>(mant) & ((u64{1} << r) - 1)) == 0;
    }
    const i64 xf = sign ? -mag - (exact ? 0 : 1) : mag;
    const i64 i = xf >> RDU_EXP2_FRAC_BITS;                                  // floor
    const i64 f = xf & ((i64{1} << RDU_EXP2_FRAC_BITS) - 1);
    constexpr int tb = RDU_EXP2_FRAC_BITS - RDU_EXP2_SEGMENT_BITS;
    const i64 k = f >> tb;
    const i64 t = f & ((i64{1} << tb) - 1);
    const i64 m = rdu_exp2_table[k] + (((rdu_exp2_table[k + 1] - rdu_exp2_table[k]) * t) >> tb);
    const i64 ic = i < -126 ? -126 : (i > 127 ? 127 : i);
    return static_cast<u32>(((ic + 127) << 23) | (m - (i64{1} << 23)));
}

// numerics.reciprocal: table + linear interpolation, integer steps only
u32 reciprocal_table(u32 a) {
    const i64 u = ftz(a);
    const i64 sign = (u >> 31) & 1;
    const i64 e = (u >> 23) & 0xFF;
    const i64 m = u & 0x7FFFFF;
    if (e == 255) return m != 0 ? NAN_ : static_cast<u32>(sign << 31);     // NaN; +-inf -> +-0
    if (e == 0) return static_cast<u32>((sign << 31) | INF);                 // +-0 -> +-inf
    constexpr int tb = 23 - RDU_RECIP_SEGMENT_BITS;
    const i64 k = m >> tb;
    const i64 t = m & ((i64{1} << tb) - 1);
    const i64 k1 = k + 1 < RDU_RECIP_TABLE_SIZE ? k + 1 : RDU_RECIP_TABLE_SIZE - 1;
    const i64 r = rdu_recip_table[k] - (((rdu_recip_table[k] - rdu_recip_table[k1]) * t) >> tb);
    const bool exact = r == (i64{1} << 24);
    const i64 re = exact ? 254 - e : 253 - e;
    if (re <= 0) return static_cast<u32>(sign << 31);
    const i64 rm = exact ? 0 : r - (i64{1} << 23);
    return static_cast<u32>((sign << 31) | ((re > 255 ? 255 : re) << 23) | rm);
}

// numerics.fixed_mul: saturate((a*b + 2**(frac-1)) >> frac)
u32 fixed_mul(u32 a, u32 b, u32 frac) {
    i64 p = s(a) * s(b);
    if (frac) p = (p + (i64{1} << (frac - 1))) >> frac;
    return sat32(p);
}

}  // namespace

extern "C" unsigned int rdu_sim_fu_eval(unsigned int built, unsigned int op, unsigned int a,
                                        unsigned int b, unsigned int c, unsigned int frac) {
    if (op >= RDU_N_OPCODES || (rdu_op_class[op] & built) == 0) return 0;
    if ((built & RDU_BUILT_MUL) == 0 && rdu_op_uses_mul[op]) return 0;
    switch (op) {
        case RDU_OP_NOP:
        case RDU_OP_PASS: return a;
        case RDU_OP_ADD: return a + b;
        case RDU_OP_SUB: return a - b;
        case RDU_OP_MUL: return a * b;                      // low 32 bits (sign-independent)
        case RDU_OP_MULADD: return a * b + c;
        case RDU_OP_MIN: return s(a) < s(b) ? a : b;
        case RDU_OP_MAX: return s(a) < s(b) ? b : a;
        case RDU_OP_LT: return s(a) < s(b) ? 1u : 0u;
        case RDU_OP_EQ: return a == b ? 1u : 0u;
        case RDU_OP_SEL: return c != 0 ? a : b;
        case RDU_OP_AND: return a & b;
        case RDU_OP_OR: return a | b;
        case RDU_OP_XOR: return a ^ b;
        case RDU_OP_SHL: return a << (b & 31u);
        case RDU_OP_SHR: return static_cast<u32>(static_cast<i32>(a) >> (b & 31u));
        case RDU_OP_SHRL: return a >> (b & 31u);
        case RDU_OP_ADDS: return sat32(s(a) + s(b));
        case RDU_OP_SUBS: return sat32(s(a) - s(b));
        case RDU_OP_FXMUL: return fixed_mul(a, b, frac & 31u);
        case RDU_OP_FADD: return fp32_add(a, b);
        case RDU_OP_FSUB: return fp32_add(a, ftz(b) ^ SIGN);   // numerics.fp32_neg (NaN stays NaN)
        case RDU_OP_FMUL: return fp32_mul(a, b);
        case RDU_OP_FMA: return fp32_add(fp32_mul(a, b), c);   // unfused
        case RDU_OP_FMAX: return fp32_max(a, b);
        case RDU_OP_FMIN: return fp32_min(a, b);
        case RDU_OP_FLT: return fp32_lt(a, b);
        case RDU_OP_FEQ: return fp32_eq(a, b);
        case RDU_OP_I2F: return fp32_from_int(a);
        case RDU_OP_F2I: return int_from_fp32(a);
        case RDU_OP_F2BF: return bf16_from_fp32(a);
        case RDU_OP_BF2F: return fp32_from_bf16(a);
        case RDU_OP_FTZ: return ftz(a);
        case RDU_OP_EXP2: return exp2_table(a);
        case RDU_OP_RECIP: return reciprocal_table(a);
        default: return 0;
    }
}

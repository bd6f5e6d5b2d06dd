/*
 * One-pass CPU kernels of generalized task arithmetic (see gta.py for the formula).
 *
 * The torch implementation in gta.py makes a dozen elementwise passes per
 * chunk; here every entry of the base and of each task vector is read once,
 * kept / weighted / sign-elected in registers and stack buffers, and the
 * merged value written once. Built and loaded by native.py (plain C, no
 * Python or torch headers, so it compiles in well under a second).
 *
 * Random keep masks (DARE) use the counter-based hash of random_keep.py:
 * entry i of a tensor is kept iff byte (i mod 4) of
 * mix32(mix32(lo32(i / 4) ^ key_lo) + hi32(i / 4) ^ key_hi) is below level.
 * The torch fallback computes the same bytes, so both paths give the same mask.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define KEEP_ALL 0
#define KEEP_ABOVE 1     /* |d| >= low */
#define KEEP_BETWEEN 2   /* low <= |d| <= high */
#define KEEP_BERNOULLI 3 /* hash byte < level */

#define TYPE_FLOAT32 0
#define TYPE_BFLOAT16 1

#define BLOCK 256 /* entries per block: its hash bytes stay in L1 */
#define MAX_SOURCES 32
#define UNROLLED_SOURCES 8 /* K up to this gets a loop with K known at compile time */

static inline uint32_t mix32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

static inline uint32_t word_hash(uint64_t word, uint32_t key_lo, uint32_t key_hi) {
    return mix32((mix32((uint32_t)word ^ key_lo) + (uint32_t)(word >> 32)) ^ key_hi);
}

/* multiplier[j] = coefficient where entry first + j is kept (its hash byte < level), else 0. */
static void random_multipliers(uint64_t key, int64_t first, int m, uint32_t level, float coefficient,
                               float *multiplier) {
    uint32_t key_lo = (uint32_t)key, key_hi = (uint32_t)(key >> 32);
    uint64_t word0 = (uint64_t)first >> 2; /* first is a multiple of 4 */
    uint32_t hashes[BLOCK / 4];
    for (int w = 0; w < (m + 3) >> 2; w++) hashes[w] = word_hash(word0 + (uint64_t)w, key_lo, key_hi);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint8_t *bytes = (const uint8_t *)hashes; /* byte j is byte j % 4 of word j / 4 */
    for (int j = 0; j < m; j++) multiplier[j] = bytes[j] < level ? coefficient : 0.0f;
#else
    for (int j = 0; j < m; j++) multiplier[j] = ((hashes[j >> 2] >> (8 * (j & 3))) & 0xFFU) < level ? coefficient : 0.0f;
#endif
}

/* Everything one call shares; every keep rule is (low <= |d| <= high) and (byte < level). */
typedef struct {
    const float *base;
    const float *const *deltas;
    float low[MAX_SOURCES], high[MAX_SOURCES], coefficient[MAX_SOURCES], weight[MAX_SOURCES];
    uint32_t level[MAX_SOURCES]; /* 256 for rules without randomness */
    uint64_t key[MAX_SOURCES];
    int random[MAX_SOURCES];
    int consensus, normalize;
    float scale; /* lam / scalar divisor, without consensus */
    float lam;
    float *out;
    int64_t offset; /* index of entry 0 in the whole tensor (a multiple of 4): masks are drawn by it */
} merge_args;

/*
 * One block of entries [first, first + m). All K sources are handled in one
 * pass over the entries, so the K + 1 input streams are read side by side
 * (the hardware prefetchers follow them), and with K a compile-time constant
 * the compiler unrolls the source loop and vectorises over entries. A random
 * keep becomes a per-entry multiplier (the coefficient or 0) first, so the
 * entry loop sees floats only.
 */
#define DEFINE_BLOCK(NAME, K_EXPR)                                                                         \
    static void NAME(const merge_args *a, int k_runtime, int64_t first, int m) {                            \
        const int K = (K_EXPR);                                                                             \
        float multiplier[MAX_SOURCES][BLOCK];                                                               \
        float low[MAX_SOURCES], high[MAX_SOURCES], weight[MAX_SOURCES];                                     \
        const float *d[MAX_SOURCES];                                                                        \
        (void)k_runtime;                                                                                    \
        for (int s = 0; s < K; s++) {                                                                       \
            d[s] = a->deltas[s] + first;                                                                    \
            low[s] = a->low[s];                                                                             \
            high[s] = a->high[s];                                                                           \
            weight[s] = a->weight[s];                                                                       \
            float c = a->coefficient[s];                                                                    \
            if (a->random[s]) {                                                                             \
                random_multipliers(a->key[s], a->offset + first, m, a->level[s], c, multiplier[s]);         \
            } else {                                                                                        \
                for (int j = 0; j < m; j++) multiplier[s][j] = c;                                           \
            }                                                                                               \
        }                                                                                                   \
        const float *restrict b = a->base + first;                                                          \
        float *restrict o = a->out + first;                                                                 \
        const int consensus = a->consensus, normalize = a->normalize;                                       \
        const float scale = a->scale, lam = a->lam;                                                         \
        if (!consensus) {                                                                                   \
            for (int j = 0; j < m; j++) {                                                                   \
                float sum = 0.0f;                                                                           \
                for (int s = 0; s < K; s++) {                                                               \
                    float x = d[s][j], ax = fabsf(x);                                                       \
                    sum += (ax >= low[s] && ax <= high[s]) ? multiplier[s][j] * x : 0.0f;                   \
                }                                                                                           \
                o[j] = b[j] + scale * sum;                                                                  \
            }                                                                                               \
            return;                                                                                         \
        }                                                                                                   \
        for (int j = 0; j < m; j++) {                                                                       \
            float tau[MAX_SOURCES];                                                                         \
            float sum = 0.0f;                                                                               \
            for (int s = 0; s < K; s++) {                                                                   \
                float x = d[s][j], ax = fabsf(x);                                                           \
                tau[s] = (ax >= low[s] && ax <= high[s]) ? multiplier[s][j] * x : 0.0f;                     \
                sum += tau[s];                                                                              \
            }                                                                                               \
            /* The elected sign: +1 where the sum is >= 0 (ties to the positive side). */                   \
            float e = sum >= 0.0f ? 1.0f : -1.0f;                                                           \
            float agree = 0.0f, divisor = 0.0f;                                                             \
            for (int s = 0; s < K; s++) {                                                                   \
                int selected = tau[s] * e > 0.0f;                                                           \
                agree += selected ? tau[s] : 0.0f;                                                          \
                divisor += selected ? weight[s] : 0.0f;                                                     \
            }                                                                                               \
            if (normalize) agree /= divisor == 0.0f ? 1.0f : divisor;                                       \
            o[j] = b[j] + lam * agree;                                                                      \
        }                                                                                                   \
    }

DEFINE_BLOCK(block_1, 1)
DEFINE_BLOCK(block_2, 2)
DEFINE_BLOCK(block_3, 3)
DEFINE_BLOCK(block_4, 4)
DEFINE_BLOCK(block_5, 5)
DEFINE_BLOCK(block_6, 6)
DEFINE_BLOCK(block_7, 7)
DEFINE_BLOCK(block_8, 8)
DEFINE_BLOCK(block_any, k_runtime)

typedef void (*block_fn)(const merge_args *, int, int64_t, int);

/* bfloat16 is the upper half of a float32: widening is exact. */
static inline float bf16_to_float(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Round to nearest, ties to even, NaN to 0x7FC0: the rounding torch's float -> bfloat16 copy does. */
static inline uint16_t float_to_bf16(float f) {
    if (f != f) return 0x7FC0U;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (uint16_t)((u + 0x7FFFU + ((u >> 16) & 1U)) >> 16);
}

/* Entries [first, first + m) of a tensor as float32: the tensor's own, or widened into buffer. */
static inline const float *as_float(const void *data, int type, int64_t first, int m, float *buffer) {
    if (type == TYPE_FLOAT32) return (const float *)data + first;
    const uint16_t *h = (const uint16_t *)data + first;
    for (int j = 0; j < m; j++) buffer[j] = bf16_to_float(h[j]);
    return buffer;
}

/* Entries [first, first + m) of a source's weights less the (float32) base: its task vector, in buffer.
 * The same float32 subtraction the reader makes, so the task vector has the same bits. */
static inline const float *weights_less_base(const void *data, int type, int64_t first, int m, const float *base,
                                             float *buffer) {
    if (type == TYPE_FLOAT32) {
        const float *w = (const float *)data + first;
        for (int j = 0; j < m; j++) buffer[j] = w[j] - base[j];
    } else {
        const uint16_t *h = (const uint16_t *)data + first;
        for (int j = 0; j < m; j++) buffer[j] = bf16_to_float(h[j]) - base[j];
    }
    return buffer;
}

/* One block of a merge with bfloat16 tensors or sources given as weights: widened (and for weights,
 * less the base) into stack buffers, merged, rounded once. Task vectors never leave the cache. */
static void widened_block(const merge_args *a, block_fn block, int k, int64_t first, int m, const void *base,
                          int base_type, const void *const *deltas, const int32_t *delta_types,
                          const int32_t *from_weights, void *out, int out_type) {
    float base_buffer[BLOCK], out_buffer[BLOCK];
    float delta_buffer[MAX_SOURCES][BLOCK];
    const float *delta_rows[MAX_SOURCES];
    merge_args local = *a;
    local.base = as_float(base, base_type, first, m, base_buffer);
    for (int s = 0; s < k; s++) {
        delta_rows[s] = from_weights != NULL && from_weights[s]
                            ? weights_less_base(deltas[s], delta_types[s], first, m, local.base, delta_buffer[s])
                            : as_float(deltas[s], delta_types[s], first, m, delta_buffer[s]);
    }
    local.deltas = delta_rows;
    local.out = out_type == TYPE_FLOAT32 ? (float *)out + first : out_buffer;
    local.offset = a->offset + first; /* masks are drawn by the entry's index in the whole tensor */
    block(&local, k, 0, m);
    if (out_type != TYPE_FLOAT32) {
        uint16_t *o = (uint16_t *)out + first;
        for (int j = 0; j < m; j++) o[j] = float_to_bf16(out_buffer[j]);
    }
}

/*
 * out[i] = base[i] + lam * sum_k sel_k(i) * tau_k(i) / divisor(i), for i in [0, n).
 *
 * tau_k = coefficients[k] * keep_k(deltas[k]); without consensus sel_k = 1 and
 * divisor = scalar_divisor. With consensus, sel_k(i) = [tau_k(i) * e(i) > 0]
 * with e(i) = +1 where sum_k tau_k(i) >= 0, else -1; the divisor is
 * sum_k weights[k] * sel_k(i) (1 where that is 0) when normalize, else 1.
 * Random masks are drawn for entries offset + i (offset a multiple of 4).
 * base, each delta and out are float32 or bfloat16 (base_type, delta_types[k],
 * out_type); bfloat16 blocks are widened on the stack and the merged block
 * rounded once, so the arithmetic is float32 either way. from_weights (NULL:
 * none) marks sources whose pointer holds weights rather than a task vector:
 * their task vector f32(weights) - f32(base) is formed per block on the stack.
 * Returns 0, or -1 when k or offset is out of range.
 */
int gta_merge(const void *base, const void *const *deltas, int k, int64_t n, const int32_t *kinds,
              const float *lows, const float *highs, const uint32_t *levels, const uint64_t *keys,
              const float *coefficients, const float *weights, int consensus, int normalize,
              float scalar_divisor, float lam, void *out, int64_t offset, int base_type,
              const int32_t *delta_types, int out_type, int threads, const int32_t *from_weights) {
    if (k < 1 || k > MAX_SOURCES || offset < 0 || (offset & 3)) return -1;
    int widened = base_type != TYPE_FLOAT32 || out_type != TYPE_FLOAT32;
    for (int s = 0; s < k; s++) widened |= delta_types[s] != TYPE_FLOAT32 || (from_weights != NULL && from_weights[s]);
    merge_args a;
    a.base = (const float *)base;
    a.deltas = (const float *const *)deltas;
    a.consensus = consensus;
    a.normalize = normalize;
    a.scale = lam / scalar_divisor;
    a.lam = lam;
    a.out = (float *)out;
    a.offset = offset;
    for (int s = 0; s < k; s++) {
        a.coefficient[s] = coefficients[s];
        a.weight[s] = weights[s];
        a.key[s] = keys[s];
        a.random[s] = kinds[s] == KEEP_BERNOULLI;
        a.level[s] = kinds[s] == KEEP_BERNOULLI ? levels[s] : 256U;
        a.low[s] = (kinds[s] == KEEP_ABOVE || kinds[s] == KEEP_BETWEEN) ? lows[s] : 0.0f;
        a.high[s] = kinds[s] == KEEP_BETWEEN ? highs[s] : INFINITY;
    }
    static const block_fn unrolled[UNROLLED_SOURCES + 1] = {
        0, block_1, block_2, block_3, block_4, block_5, block_6, block_7, block_8};
    block_fn block = k <= UNROLLED_SOURCES ? unrolled[k] : block_any;
    int64_t blocks = (n + BLOCK - 1) / BLOCK;
#pragma omp parallel for schedule(static) num_threads(threads > 0 ? threads : 1)
    for (int64_t i = 0; i < blocks; i++) {
        int64_t first = i * BLOCK;
        int m = (int)(n - first < BLOCK ? n - first : BLOCK);
        if (widened) {
            widened_block(&a, block, k, first, m, base, base_type, deltas, delta_types, from_weights, out, out_type);
        } else {
            block(&a, k, first, m);
        }
    }
    return 0;
}

/*
 * Copy the |d[i]| with low <= |d[i]| <= high into found[0 .. capacity) in
 * index order; return how many there are (all of them counted, even past
 * capacity, so the caller can grow the buffer and call again).
 */
int64_t bracket_magnitudes(const float *d, int64_t n, float low, float high, float *found, int64_t capacity) {
    int64_t count = 0;
    for (int64_t start = 0; start < n; start += 64) {
        int m = (int)(n - start < 64 ? n - start : 64);
        /* A vectorised test of 64 entries first: a bracket holds about 1 in 1000. */
        int any = 0;
        for (int j = 0; j < m; j++) {
            float a = fabsf(d[start + j]);
            any |= (a >= low) & (a <= high);
        }
        if (!any) continue;
        for (int j = 0; j < m; j++) {
            float a = fabsf(d[start + j]);
            if (a >= low && a <= high) {
                if (count < capacity) found[count] = a;
                count++;
            }
        }
    }
    return count;
}

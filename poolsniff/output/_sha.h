/* SHA-1 and SHA-256 of short messages, for _flowline.c (included by it, as _walk.c includes _keymap.h).
 *
 * An alerted flow's line hashes three short messages: SHA-1 of its flow_id text and of its Community
 * ID tuple (20-100 bytes), SHA-256 of its canonical record (about 600 bytes). Where the CPU has the SHA
 * instructions (x86-64 SHA-NI, asked of cpuid once), all three are computed with them here: a block in
 * about 100 cycles, no object made. Elsewhere SHA-1 is the portable C below and SHA-256 is hashlib's
 * (OpenSSL), as before: a call and a hash object per line, 0.55 us of a line's 2.5. The tests hold
 * both ways to hashlib on messages of every length around the block boundaries (``sha_ni(False)``
 * turns the instructions off for them).
 */
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_SHA_NI_BUILD 1
#endif

static int use_sha_ni; /* the CPU has them and the tests have not turned them off */
static int cpu_sha_ni; /* the CPU has them */

#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

typedef void (*Compress)(uint32_t *h, const unsigned char *blocks, size_t n);

/* The Merkle-Damgard padding both hashes share: the message, 0x80, zeros, its length in bits
 * (big-endian, 64 bits), in 64-byte blocks, each run of blocks handed to ``compress``. */
static void md_blocks(const unsigned char *msg, size_t len, uint32_t *h, Compress compress)
{
    unsigned char tail[128];
    size_t whole = len / 64, rest = len % 64, n = rest < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    if (whole)
        compress(h, msg, whole);
    memset(tail, 0, n);
    memcpy(tail, msg + whole * 64, rest);
    tail[rest] = 0x80;
    for (int i = 0; i < 8; i++)
        tail[n - 1 - i] = (unsigned char)(bits >> (8 * i));
    compress(h, tail, n / 64);
}

static void big_endian(const uint32_t *h, int words, unsigned char *out)
{
    for (int i = 0; i < words; i++) {
        out[4 * i] = (unsigned char)(h[i] >> 24), out[4 * i + 1] = (unsigned char)(h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(h[i] >> 8), out[4 * i + 3] = (unsigned char)h[i];
    }
}

/* SHA-1 (FIPS 180-4), portable. */
static void sha1_portable(uint32_t *h, const unsigned char *p, size_t n)
{
    uint32_t w[80], a, b, c, d, e, t;
    int i;
    for (; n--; p += 64) {
        for (i = 0; i < 16; i++)
            w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
        for (i = 16; i < 80; i++)
            w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
#define ROUND(f, k) (t = ROL(a, 5) + (f) + e + (k) + w[i], e = d, d = c, c = ROL(b, 30), b = a, a = t)
        for (i = 0; i < 20; i++)
            ROUND((b & c) | (~b & d), 0x5A827999u);
        for (; i < 40; i++)
            ROUND(b ^ c ^ d, 0x6ED9EBA1u);
        for (; i < 60; i++)
            ROUND((b & c) | (b & d) | (c & d), 0x8F1BBCDCu);
        for (; i < 80; i++)
            ROUND(b ^ c ^ d, 0xCA62C1D6u);
#undef ROUND
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
    }
}

#ifdef HAVE_SHA_NI_BUILD
#define SHA_NI __attribute__((target("sha,sse4.1,ssse3")))

/* SHA-1 with SHA-NI: A..D in one register (A in the top lane), E in the top lane of another; each
 * sha1rnds4 runs four rounds, sha1nexte derives the next four rounds' E from A four rounds back. */
SHA_NI static void sha1_ni(uint32_t *h, const unsigned char *p, size_t n)
{
    const __m128i swap = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL); /* W0 in the top lane */
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0x1B);
    __m128i e0 = _mm_set_epi32((int)h[4], 0, 0, 0);
    for (; n--; p += 64) {
        __m128i w[4], abcd_in = abcd, e_in = e0, prev = abcd, e;
        for (int i = 0; i < 4; i++)
            w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), swap);
        e = _mm_add_epi32(e0, w[0]);
        abcd = _mm_sha1rnds4_epu32(abcd, e, 0);
        for (int g = 1; g < 20; g++) {
            __m128i x;
            if (g >= 4) { /* W[t] = rol1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]), four at a time */
                x = _mm_xor_si128(_mm_sha1msg1_epu32(w[g & 3], w[(g + 1) & 3]), w[(g + 2) & 3]);
                w[g & 3] = _mm_sha1msg2_epu32(x, w[(g + 3) & 3]);
            }
            e = _mm_sha1nexte_epu32(prev, w[g & 3]);
            prev = abcd;
            switch (g / 5) { /* the round function is an immediate */
            case 0: abcd = _mm_sha1rnds4_epu32(abcd, e, 0); break;
            case 1: abcd = _mm_sha1rnds4_epu32(abcd, e, 1); break;
            case 2: abcd = _mm_sha1rnds4_epu32(abcd, e, 2); break;
            default: abcd = _mm_sha1rnds4_epu32(abcd, e, 3); break;
            }
        }
        e0 = _mm_sha1nexte_epu32(prev, e_in);
        abcd = _mm_add_epi32(abcd, abcd_in);
    }
    _mm_storeu_si128((__m128i *)h, _mm_shuffle_epi32(abcd, 0x1B));
    h[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}

static const uint32_t SHA256_K[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

/* SHA-256 with SHA-NI: the state as ABEF and CDGH (A and C in the top lanes); each sha256rnds2 runs two
 * rounds with the low two words of W[t] + K[t]. */
SHA_NI static void sha256_ni(uint32_t *h, const unsigned char *p, size_t n)
{
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL); /* big-endian words */
    __m128i badc = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0xB1);
    __m128i hgfe = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(h + 4)), 0x1B);
    __m128i abef = _mm_alignr_epi8(badc, hgfe, 8), cdgh = _mm_blend_epi16(hgfe, badc, 0xF0);
    for (; n--; p += 64) {
        __m128i w[4], abef_in = abef, cdgh_in = cdgh, k;
        for (int g = 0; g < 16; g++) {
            if (g < 4) {
                w[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), swap);
            } else { /* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four at a time */
                __m128i x = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);
                x = _mm_add_epi32(x, _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
                w[g & 3] = _mm_sha256msg2_epu32(x, w[(g + 3) & 3]);
            }
            k = _mm_add_epi32(w[g & 3], _mm_loadu_si128((const __m128i *)(SHA256_K + 4 * g)));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, k);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(k, 0x0E));
        }
        abef = _mm_add_epi32(abef, abef_in);
        cdgh = _mm_add_epi32(cdgh, cdgh_in);
    }
    {
        __m128i abef_r = _mm_shuffle_epi32(abef, 0x1B), ghcd = _mm_shuffle_epi32(cdgh, 0xB1);
        _mm_storeu_si128((__m128i *)h, _mm_blend_epi16(abef_r, ghcd, 0xF0));
        _mm_storeu_si128((__m128i *)(h + 4), _mm_alignr_epi8(ghcd, abef_r, 8));
    }
}

/* Whether the CPU has SHA-NI and what it needs with it (SSSE3, SSE4.1). */
static int has_sha_ni(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1))
        return 0;
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b & bit_SHA) != 0;
}
#else
static int has_sha_ni(void) { return 0; }
#endif

static void sha_init(void) { use_sha_ni = cpu_sha_ni = has_sha_ni(); }

/* SHA-1 of ``msg`` into ``out``. */
static void sha1(const unsigned char *msg, size_t len, unsigned char out[20])
{
    uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
#ifdef HAVE_SHA_NI_BUILD
    md_blocks(msg, len, h, use_sha_ni ? sha1_ni : sha1_portable);
#else
    md_blocks(msg, len, h, sha1_portable);
#endif
    big_endian(h, 5, out);
}

/* SHA-256 of ``msg`` into ``out`` with SHA-NI; 0 where it is not used (the caller asks hashlib). */
static int sha256(const unsigned char *msg, size_t len, unsigned char out[32])
{
#ifdef HAVE_SHA_NI_BUILD
    uint32_t h[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                     0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
    if (!use_sha_ni)
        return 0;
    md_blocks(msg, len, h, sha256_ni);
    big_endian(h, 8, out);
    return 1;
#else
    (void)msg, (void)len, (void)out;
    return 0;
#endif
}

/* le_mbedtls_config.h - minimal mbedTLS 3.6 configuration for le.h's HTTPS
   transport: a TLS 1.2 + TLS 1.3 client verifying RSA and ECDSA chains
   (Kubernetes API servers use either), with the static-buffer allocator so
   a process can run without malloc once started.
   Used by tools/mbedtls/build.sh; compile users with
   -DMBEDTLS_CONFIG_FILE='"le_mbedtls_config.h"'. */
#ifndef LE_MBEDTLS_CONFIG_H
#define LE_MBEDTLS_CONFIG_H

/* platform */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE          /* certificate validity periods */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY         /* mbedtls_platform_set_calloc_free */
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C   /* mbedtls_memory_buffer_alloc_init */
#define MBEDTLS_ERROR_C                 /* mbedtls_strerror in messages */

/* snprintf without floating point or stdio (le_platform.c, built into
   libmbedcrypto.a by build.sh): a static binary leaves the C library's
   printf and stdio out (le-run: 17 KB smaller) */
#include <stdarg.h>
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
int le_mbedtls_snprintf(char *out, size_t cap, const char *fmt, ...);
int le_mbedtls_vsnprintf(char *out, size_t cap, const char *fmt, va_list ap);
#ifdef __cplusplus
}
#endif
#define MBEDTLS_PLATFORM_SNPRINTF_MACRO le_mbedtls_snprintf
#define MBEDTLS_PLATFORM_VSNPRINTF_MACRO le_mbedtls_vsnprintf

/* randomness: getrandom(2) on any libc (le_platform.c, built into
   libmbedcrypto.a by build.sh). mbedTLS's own source uses getrandom only
   with glibc and otherwise needs /dev/urandom, absent from an empty root. */
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_ENTROPY_HARDWARE_ALT

/* symmetric crypto and hashes */
#define MBEDTLS_AES_C
#define MBEDTLS_AES_ROM_TABLES
#define MBEDTLS_AES_FEWER_TABLES
#define MBEDTLS_GCM_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_MD_C
#define MBEDTLS_SHA224_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA384_C
#define MBEDTLS_SHA512_C
#define MBEDTLS_SHA256_SMALLER
#define MBEDTLS_SHA512_SMALLER
#define MBEDTLS_HKDF_C

/* public keys: RSA (PKCS#1 v1.5 and PSS) and ECDSA/ECDH on P-256 and
   P-384. Left out for size (a static le-run stays under 300 KB): X25519 and
   P-521 (every API server offers P-256), ChaCha20-Poly1305 (AES-GCM is
   always offered), SHA-1 certificate signatures, encrypt-then-MAC (CBC
   only), the NIST fast reductions and fixed-point tables (speed only). */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_OID_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C              /* client keys from a kubeconfig */
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_BASE64_C

/* X.509 */
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_X509_CHECK_KEY_USAGE
#define MBEDTLS_X509_CHECK_EXTENDED_KEY_USAGE
#define MBEDTLS_X509_RSASSA_PSS_SUPPORT /* TLS 1.3 offers rsa_pss_rsae_* only
                                           with it: RSA servers need it */

/* PSA crypto: TLS 1.3 in mbedTLS 3.6 is built on it */
#define MBEDTLS_PSA_CRYPTO_C

/* TLS client */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_TLS1_3
#define MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED

#endif /* LE_MBEDTLS_CONFIG_H */

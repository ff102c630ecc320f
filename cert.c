/* cert.c: short-lived OpenSSH user certificates, signed by sshroute's CA.
 *
 * libssh can use a certificate but not make one, so this file builds the
 * certificate as OpenSSH's PROTOCOL.certkeys describes and signs it with
 * libcrypto (OpenSSL 3, which libssh loads anyway). Nothing here is
 * cryptography by hand: the byte layout is SSH's wire format, and every
 * key operation is OpenSSL's.
 *
 *     string  "ssh-ed25519-cert-v01@openssh.com"
 *     string  nonce               uint64 valid after
 *     string  public key          uint64 valid before
 *     uint64  serial              string critical options
 *     uint32  type (1: user)      string extensions
 *     string  key id              string reserved
 *     string  valid principals    string signature key (the CA's public key)
 *                                 string signature over all of the above
 *
 * The CA's key is read from OpenSSH's own private key format (PROTOCOL.key,
 * what ssh-keygen writes), which OpenSSL cannot read: the file is parsed
 * here, unencrypted keys only, and its parts handed to OpenSSL. */
#include "cert.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "keys.h"
#include "log.h"

/* A CA key file is small: an RSA key of 16384 bits is under 13 KiB. */
#define CA_FILE_MAX 65536

static const char pem_begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
static const char pem_end[] = "-----END OPENSSH PRIVATE KEY-----";
static const char key_magic[] = "openssh-key-v1";   /* with its '\0' */
static const char cert_type_name[] = "ssh-ed25519-cert-v01@openssh.com";

#define SSH_CERT_TYPE_USER 1

struct ca {
	EVP_PKEY *pkey;
	const EVP_MD *md;          /* NULL for ed25519, which hashes by itself */
	const char *sig_name;      /* the signature's algorithm name */
	const char *type;          /* "ED25519", "ECDSA", "RSA" */
	int is_ecdsa;              /* the signature is DER from OpenSSL: re-encode it */
	unsigned char *pub_blob;   /* the CA's public key, in SSH's encoding */
	size_t pub_len;
	char fingerprint[64];
};

/* ---- SSH's wire format: writing ---- */

/* A growing buffer; failed is set once memory ran out, and every later
 * write is then a no-op, so that callers check once at the end. */
struct wbuf {
	unsigned char *data;
	size_t len, cap;
	int failed;
};

static void put_bytes(struct wbuf *b, const void *src, size_t n)
{
	size_t cap = b->cap ? b->cap : 256;
	unsigned char *grown;

	if (b->failed)
		return;
	while (cap - b->len < n)
		cap *= 2;
	if (cap != b->cap) {
		grown = realloc(b->data, cap);
		if (grown == NULL) {
			b->failed = 1;
			return;
		}
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, src, n);
	b->len += n;
}

static void put_u32(struct wbuf *b, uint32_t v)
{
	unsigned char be[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
	                        (unsigned char)(v >> 8), (unsigned char)v };

	put_bytes(b, be, sizeof(be));
}

static void put_u64(struct wbuf *b, uint64_t v)
{
	put_u32(b, (uint32_t)(v >> 32));
	put_u32(b, (uint32_t)v);
}

static void put_string(struct wbuf *b, const void *s, size_t n)
{
	put_u32(b, (uint32_t)n);
	put_bytes(b, s, n);
}

static void put_cstring(struct wbuf *b, const char *s)
{
	put_string(b, s, strlen(s));
}

/* A buffer's contents as one string of b, then b's contents freed. */
static void put_buffer(struct wbuf *b, struct wbuf *inner)
{
	if (inner->failed)
		b->failed = 1;
	put_string(b, inner->data, inner->len);
	free(inner->data);
	memset(inner, 0, sizeof(*inner));
}

/* An mpint: OpenSSL's MPI format is SSH's (length, big-endian two's
 * complement, a zero byte in front when the top bit is set). */
static void put_mpint(struct wbuf *b, const BIGNUM *n)
{
	int len = BN_bn2mpi(n, NULL);
	unsigned char *mpi = len > 0 ? malloc((size_t)len) : NULL;

	if (mpi == NULL) {
		b->failed = 1;
		return;
	}
	BN_bn2mpi(n, mpi);
	put_bytes(b, mpi, (size_t)len);
	free(mpi);
}

/* ---- SSH's wire format: reading ---- */

struct rbuf {
	const unsigned char *p;
	size_t left;
};

static int get_u32(struct rbuf *r, uint32_t *v)
{
	if (r->left < 4)
		return -1;
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->left -= 4;
	return 0;
}

static int get_string(struct rbuf *r, const unsigned char **s, size_t *n)
{
	uint32_t len;

	if (get_u32(r, &len) < 0 || len > r->left)
		return -1;
	*s = r->p;
	*n = len;
	r->p += len;
	r->left -= len;
	return 0;
}

/* A string that must equal name. */
static int get_name(struct rbuf *r, const char *name)
{
	const unsigned char *s;
	size_t n;

	return get_string(r, &s, &n) == 0 && n == strlen(name) && memcmp(s, name, n) == 0 ? 0 : -1;
}

/* An mpint as a new BIGNUM (non-negative: keys have no negative parts). */
static BIGNUM *get_bignum(struct rbuf *r)
{
	const unsigned char *s;
	size_t n;

	if (get_string(r, &s, &n) < 0 || n > 4096 || (n > 0 && (s[0] & 0x80)))
		return NULL;
	return BN_bin2bn(s, (int)n, NULL);
}

/* ---- the CA's key file ---- */

/* Reads path whole into a NUL-terminated buffer. */
static char *read_small_file(const char *path, char *why, size_t size)
{
	FILE *f = fopen(path, "re");
	char *text = f ? malloc(CA_FILE_MAX + 1) : NULL;
	size_t n = 0;

	if (f == NULL || text == NULL) {
		snprintf(why, size, f ? "out of memory" : "cannot read it");
		if (f)
			fclose(f);
		return NULL;
	}
	n = fread(text, 1, CA_FILE_MAX + 1, f);
	fclose(f);
	if (n > CA_FILE_MAX) {
		snprintf(why, size, "larger than %d bytes, so not a key", CA_FILE_MAX);
		free(text);
		return NULL;
	}
	text[n] = '\0';
	return text;
}

/* The base64 between the armour lines, without line breaks, decoded
 * into a new buffer (its length in *len). */
static unsigned char *decode_armour(char *text, size_t *len, char *why, size_t size)
{
	char *body = strstr(text, pem_begin), *end, *in, *out;
	unsigned char *der = NULL;
	size_t body_len;
	int n = -1;

	if (body == NULL || (end = strstr(body, pem_end)) == NULL) {
		snprintf(why, size, "not in OpenSSH's private key format (ssh-keygen -p -f FILE "
		         "rewrites it in that format)");
		return NULL;
	}
	*end = '\0';
	body += strlen(pem_begin);
	for (in = out = body; *in; in++)
		if (*in != '\n' && *in != '\r' && *in != ' ' && *in != '\t')
			*out++ = *in;
	*out = '\0';
	body_len = strlen(body);
	der = malloc(body_len + 1);
	if (der != NULL)
		n = base64_decode(body, body_len, der, body_len + 1);
	if (n < 0) {
		snprintf(why, size, der ? "damaged: its base64 does not decode" : "out of memory");
		free(der);
		return NULL;
	}
	*len = (size_t)n;
	return der;
}

/* The container of PROTOCOL.key up to the private section, which r is
 * left at. Encrypted keys are refused: sshroute has no one to ask for a
 * passphrase. */
static int open_container(struct rbuf *r, const unsigned char **pub, size_t *pub_len,
                          char *why, size_t size)
{
	const unsigned char *cipher, *kdf, *kdf_opts;
	size_t cipher_len, kdf_len, opts_len;
	uint32_t n_keys, check1, check2;
	struct rbuf priv;

	if (r->left < sizeof(key_magic) || memcmp(r->p, key_magic, sizeof(key_magic)) != 0)
		goto damaged;
	r->p += sizeof(key_magic);
	r->left -= sizeof(key_magic);
	if (get_string(r, &cipher, &cipher_len) < 0 || get_string(r, &kdf, &kdf_len) < 0 ||
	    get_string(r, &kdf_opts, &opts_len) < 0 || get_u32(r, &n_keys) < 0)
		goto damaged;
	if (cipher_len != 4 || memcmp(cipher, "none", 4) != 0) {
		snprintf(why, size, "protected by a passphrase (remove it: ssh-keygen -p -f FILE)");
		return -1;
	}
	if (n_keys != 1 || get_string(r, pub, pub_len) < 0 ||
	    get_string(r, &priv.p, &priv.left) < 0 || get_u32(&priv, &check1) < 0 ||
	    get_u32(&priv, &check2) < 0 || check1 != check2)
		goto damaged;
	*r = priv;
	return 0;
damaged:
	snprintf(why, size, "damaged, or not an OpenSSH private key");
	return -1;
}

/* ---- the three kinds of CA key ---- */

/* "ssh-ed25519": string pk (32 bytes), string sk (seed and pk, 64). */
static EVP_PKEY *read_ed25519(struct rbuf *r, struct wbuf *pub)
{
	const unsigned char *pk, *sk;
	unsigned char derived[32];
	size_t pk_len, sk_len, derived_len = sizeof(derived);
	EVP_PKEY *pkey;

	if (get_string(r, &pk, &pk_len) < 0 || get_string(r, &sk, &sk_len) < 0 ||
	    pk_len != 32 || sk_len != 64)
		return NULL;
	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk, 32);
	/* OpenSSL derives the public key from the seed: it must be the file's */
	if (pkey == NULL || EVP_PKEY_get_raw_public_key(pkey, derived, &derived_len) != 1 ||
	    derived_len != 32 || memcmp(derived, pk, 32) != 0) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	put_cstring(pub, "ssh-ed25519");
	put_string(pub, pk, pk_len);
	return pkey;
}

/* 1 when the private and the public half of pkey belong together. */
static int key_pair_matches(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	int ok = ctx != NULL && EVP_PKEY_pairwise_check(ctx) == 1;

	EVP_PKEY_CTX_free(ctx);
	return ok;
}

/* Builds a key of OpenSSL type name ("EC", "RSA") from params; NULL also
 * when its halves do not match. */
static EVP_PKEY *key_from_params(const char *name, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
	EVP_PKEY *pkey = NULL;

	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) <= 0)
		pkey = NULL;
	if (pkey != NULL && !key_pair_matches(pkey)) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

/* The ECDSA curves of SSH: key type (also the signature's name), curve
 * name, OpenSSL's group and the hash the signature uses. */
struct curve {
	const char *key_type, *ssh_name, *group;
	const EVP_MD *(*md)(void);
};

static const struct curve curves[] = {
	{ "ecdsa-sha2-nistp256", "nistp256", "prime256v1", EVP_sha256 },
	{ "ecdsa-sha2-nistp384", "nistp384", "secp384r1", EVP_sha384 },
	{ "ecdsa-sha2-nistp521", "nistp521", "secp521r1", EVP_sha512 },
};

static const struct curve *find_curve(const unsigned char *type, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (len == strlen(curves[i].key_type) && memcmp(type, curves[i].key_type, len) == 0)
			return &curves[i];
	return NULL;
}

/* "ecdsa-sha2-nistpN": string curve, string Q, mpint d. */
static EVP_PKEY *read_ecdsa(struct rbuf *r, struct wbuf *pub, const struct curve *c)
{
	const unsigned char *q;
	size_t q_len;
	BIGNUM *d = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;

	if (get_name(r, c->ssh_name) < 0 || get_string(r, &q, &q_len) < 0 ||
	    (d = get_bignum(r)) == NULL || (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c->group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, q, q_len) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d))
		goto out;
	pkey = key_from_params("EC", bld);
	put_cstring(pub, c->key_type);
	put_cstring(pub, c->ssh_name);
	put_string(pub, q, q_len);
out:
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(d);
	return pkey;
}

/* The CRT exponents OpenSSL wants beside d: d mod (p-1), d mod (q-1). */
static int push_crt_exponents(OSSL_PARAM_BLD *bld, const BIGNUM *d, const BIGNUM *p,
                              const BIGNUM *q, BIGNUM *tmp[3], BN_CTX *bn)
{
	return BN_sub(tmp[0], p, BN_value_one()) && BN_mod(tmp[1], d, tmp[0], bn) &&
	       OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, tmp[1]) &&
	       BN_sub(tmp[0], q, BN_value_one()) && BN_mod(tmp[2], d, tmp[0], bn) &&
	       OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, tmp[2]);
}

/* "ssh-rsa": mpint n, e, d, iqmp, p, q. It signs as rsa-sha2-512, never
 * with SHA-1. */
static EVP_PKEY *read_rsa(struct rbuf *r, struct wbuf *pub)
{
	enum { N, E, D, IQMP, P, Q, NPARTS };
	static const char *const names[NPARTS] = {
		OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_D,
		OSSL_PKEY_PARAM_RSA_COEFFICIENT1, OSSL_PKEY_PARAM_RSA_FACTOR1,
		OSSL_PKEY_PARAM_RSA_FACTOR2,
	};
	BIGNUM *part[NPARTS] = { NULL }, *tmp[3] = { BN_new(), BN_new(), BN_new() };
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BN_CTX *bn = BN_CTX_new();
	EVP_PKEY *pkey = NULL;
	int i, ok = bld && bn && tmp[0] && tmp[1] && tmp[2];

	for (i = 0; i < NPARTS && ok; i++)
		ok = (part[i] = get_bignum(r)) != NULL && OSSL_PARAM_BLD_push_BN(bld, names[i], part[i]);
	if (ok && push_crt_exponents(bld, part[D], part[P], part[Q], tmp, bn)) {
		pkey = key_from_params("RSA", bld);
		put_cstring(pub, "ssh-rsa");
		put_mpint(pub, part[E]);
		put_mpint(pub, part[N]);
	}
	for (i = 0; i < NPARTS; i++)
		BN_clear_free(part[i]);
	for (i = 0; i < 3; i++)
		BN_clear_free(tmp[i]);
	BN_CTX_free(bn);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

/* The private section: its key type, then the type's parts. pub gets the
 * public key rebuilt from them, to compare with the file's own. */
static EVP_PKEY *read_private(struct rbuf *r, struct ca *ca, struct wbuf *pub,
                              char *why, size_t size)
{
	const unsigned char *type = NULL;
	size_t type_len = 0;
	const struct curve *c;

	if (get_string(r, &type, &type_len) < 0) {
		snprintf(why, size, "damaged, or not an OpenSSH private key");
		return NULL;
	}
	if (type_len == 11 && memcmp(type, "ssh-ed25519", 11) == 0) {
		ca->type = "ED25519";
		ca->sig_name = "ssh-ed25519";
		return read_ed25519(r, pub);
	}
	if ((c = find_curve(type, type_len)) != NULL) {
		ca->type = "ECDSA";
		ca->sig_name = c->key_type;
		ca->md = c->md();
		ca->is_ecdsa = 1;
		return read_ecdsa(r, pub, c);
	}
	if (type_len == 7 && memcmp(type, "ssh-rsa", 7) == 0) {
		ca->type = "RSA";
		ca->sig_name = "rsa-sha2-512";
		ca->md = EVP_sha512();
		return read_rsa(r, pub);
	}
	snprintf(why, size, "of a type sshroute cannot sign with (ed25519, ecdsa or rsa)");
	return NULL;
}

/* OpenSSH's fingerprint: SHA256: and the unpadded base64 of the hash. */
static void set_fingerprint(struct ca *ca)
{
	unsigned char hash[32];
	char b64[48];
	int n;

	if (EVP_Digest(ca->pub_blob, ca->pub_len, hash, NULL, EVP_sha256(), NULL) != 1)
		return;
	n = EVP_EncodeBlock((unsigned char *)b64, hash, sizeof(hash));
	while (n > 0 && b64[n - 1] == '=')
		b64[--n] = '\0';
	snprintf(ca->fingerprint, sizeof(ca->fingerprint), "SHA256:%s", b64);
}

/* The key in the decoded file: checks that the private part matches the
 * public key the file carries, which becomes the certificates' signer. */
static int read_ca_key(struct ca *ca, const unsigned char *der, size_t len, char *why, size_t size)
{
	struct rbuf r = { der, len };
	struct wbuf rebuilt = { 0 };
	const unsigned char *pub;
	size_t pub_len;

	if (open_container(&r, &pub, &pub_len, why, size) < 0)
		return -1;
	ca->pkey = read_private(&r, ca, &rebuilt, why, size);
	if (ca->pkey != NULL && !rebuilt.failed && rebuilt.len == pub_len &&
	    memcmp(rebuilt.data, pub, pub_len) == 0) {
		ca->pub_blob = rebuilt.data;
		ca->pub_len = rebuilt.len;
		set_fingerprint(ca);
		return 0;
	}
	if (ca->type != NULL)   /* else read_private said why */
		snprintf(why, size, "damaged: its private key cannot be read, or does not match "
		         "its public key");
	free(rebuilt.data);
	return -1;
}

struct ca *ca_load(const char *path, char *why, size_t size)
{
	struct ca *ca = calloc(1, sizeof(*ca));
	char *text = ca ? read_small_file(path, why, size) : NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	int rc = -1;

	if (ca == NULL)
		snprintf(why, size, "out of memory");
	if (text != NULL && (der = decode_armour(text, &len, why, size)) != NULL)
		rc = read_ca_key(ca, der, len, why, size);
	if (text != NULL)
		OPENSSL_clear_free(text, CA_FILE_MAX + 1);
	if (der != NULL)
		OPENSSL_clear_free(der, len);
	if (rc < 0) {
		ca_free(ca);
		return NULL;
	}
	return ca;
}

void ca_free(struct ca *ca)
{
	if (ca == NULL)
		return;
	EVP_PKEY_free(ca->pkey);
	free(ca->pub_blob);
	free(ca);
}

const char *ca_type(const struct ca *ca)
{
	return ca->type;
}

const char *ca_fingerprint(const struct ca *ca)
{
	return ca->fingerprint;
}

/* ---- signing ---- */

/* OpenSSL's ECDSA signature is DER; SSH's is two mpints, r and s. */
static int put_ecdsa_signature(struct wbuf *b, const unsigned char *der, size_t len)
{
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &der, (long)len);
	struct wbuf rs = { 0 };

	if (sig == NULL)
		return -1;
	put_mpint(&rs, ECDSA_SIG_get0_r(sig));
	put_mpint(&rs, ECDSA_SIG_get0_s(sig));
	ECDSA_SIG_free(sig);
	put_buffer(b, &rs);
	return 0;
}

/* Appends the CA's signature over data to b, as SSH encodes it: string
 * (string algorithm, string signature). */
static int put_signature(const struct ca *ca, struct wbuf *b, const unsigned char *data,
                         size_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *sig = NULL;
	size_t sig_len = 0;
	struct wbuf inner = { 0 };
	int rc = -1;

	if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, ca->md, NULL, ca->pkey) != 1 ||
	    EVP_DigestSign(ctx, NULL, &sig_len, data, len) != 1 || (sig = malloc(sig_len)) == NULL ||
	    EVP_DigestSign(ctx, sig, &sig_len, data, len) != 1)
		goto out;
	put_cstring(&inner, ca->sig_name);
	if (!ca->is_ecdsa)
		put_string(&inner, sig, sig_len);
	else if (put_ecdsa_signature(&inner, sig, sig_len) < 0)
		goto out;
	put_buffer(b, &inner);
	rc = b->failed ? -1 : 0;
out:
	free(inner.data);
	free(sig);
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* ---- the certificate ---- */

/* The raw 32-byte public key of a fresh ed25519 key made by libssh. */
static int ed25519_public(ssh_key key, unsigned char pk[32])
{
	char *b64 = NULL;
	unsigned char blob[128];
	const unsigned char *s;
	size_t n;
	struct rbuf r;
	int len = -1;

	if (ssh_pki_export_pubkey_base64(key, &b64) == SSH_OK)
		len = base64_decode(b64, strlen(b64), blob, sizeof(blob));
	ssh_string_free_char(b64);
	if (len < 0)
		return -1;
	r.p = blob;
	r.left = (size_t)len;
	if (get_name(&r, "ssh-ed25519") < 0 || get_string(&r, &s, &n) < 0 || n != 32)
		return -1;
	memcpy(pk, s, 32);
	return 0;
}

/* The certificate's one critical option: where it may be used from. */
static void put_critical_options(struct wbuf *b, const char *source_address)
{
	struct wbuf options = { 0 }, value = { 0 };

	put_cstring(&options, "source-address");
	put_cstring(&value, source_address);
	put_buffer(&options, &value);
	put_buffer(b, &options);
}

/* OpenSSH's default extensions, in its (byte) order, less the forwarding
 * that the route forbids; each has an empty value. */
static void put_extensions(struct wbuf *b, const struct cert_request *req)
{
	const struct {
		const char *name;
		int on;
	} ext[] = {
		{ "permit-X11-forwarding", req->permit_x11_forwarding },
		{ "permit-agent-forwarding", req->permit_agent_forwarding },
		{ "permit-port-forwarding", req->permit_port_forwarding },
		{ "permit-pty", 1 },
		{ "permit-user-rc", 1 },
	};
	struct wbuf list = { 0 };
	size_t i;

	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		if (!ext[i].on)
			continue;
		put_cstring(&list, ext[i].name);
		put_string(&list, "", 0);
	}
	put_buffer(b, &list);
}

/* Everything the signature covers. */
static void put_cert_body(struct wbuf *b, const struct ca *ca, const struct cert_request *req,
                          const unsigned char pk[32], uint64_t serial)
{
	unsigned char nonce[32];
	struct wbuf principals = { 0 };
	uint64_t now = (uint64_t)time(NULL);

	if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
		b->failed = 1;
		return;
	}
	put_cstring(b, cert_type_name);
	put_string(b, nonce, sizeof(nonce));
	put_string(b, pk, 32);
	put_u64(b, serial);
	put_u32(b, SSH_CERT_TYPE_USER);
	put_cstring(b, req->key_id);
	put_cstring(&principals, req->principal);
	put_buffer(b, &principals);
	put_u64(b, now - CERT_SKEW);
	put_u64(b, now + (uint64_t)req->validity);
	put_critical_options(b, req->source_address);
	put_extensions(b, req);
	put_string(b, "", 0);   /* reserved */
	put_string(b, ca->pub_blob, ca->pub_len);
}

/* The finished certificate, imported by libssh (its check that the
 * certificate is well formed) and attached to key. */
static int attach_cert(ssh_key key, const struct wbuf *cert)
{
	int b64_len = 4 * (int)((cert->len + 2) / 3) + 1;
	char *b64 = malloc((size_t)b64_len);
	ssh_key imported = NULL;
	int rc = -1;

	if (b64 != NULL) {
		EVP_EncodeBlock((unsigned char *)b64, cert->data, (int)cert->len);
		if (ssh_pki_import_cert_base64(b64, SSH_KEYTYPE_ED25519_CERT01, &imported) == SSH_OK &&
		    ssh_pki_copy_cert_to_privkey(imported, key) == SSH_OK)
			rc = 0;
	}
	ssh_key_free(imported);
	free(b64);
	return rc;
}

ssh_key cert_issue(const struct ca *ca, const struct cert_request *req,
                   unsigned long long *serial)
{
	ssh_key key = NULL;
	unsigned char pk[32];
	uint64_t number;
	struct wbuf cert = { 0 };
	const char *failed = NULL;

	if (key_generate_ed25519(&key) != SSH_OK || ed25519_public(key, pk) < 0)
		failed = "cannot make a key for the certificate";
	else if (RAND_bytes((unsigned char *)&number, sizeof(number)) != 1)
		failed = "no random numbers for the certificate";
	if (failed == NULL) {
		put_cert_body(&cert, ca, req, pk, number);
		if (cert.failed || put_signature(ca, &cert, cert.data, cert.len) < 0)
			failed = "cannot sign the certificate";
		else if (attach_cert(key, &cert) < 0)
			failed = "libssh does not accept the certificate sshroute made";
	}
	free(cert.data);
	if (failed != NULL) {
		log_error("%s (CA %s %s)", failed, ca->type, ca->fingerprint);
		ssh_key_free(key);
		return NULL;
	}
	*serial = number;
	return key;
}

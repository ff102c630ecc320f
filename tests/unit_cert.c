/* unit_cert.c: unit tests for the certificate authority (cert.c).
 *
 * Makes CA keys with ssh-keygen (ed25519, ecdsa of each curve, rsa),
 * issues a certificate with each, and has OpenSSH's ssh-keygen -L read it
 * back: ssh-keygen checks the CA's signature as it parses, so a line it
 * prints is a certificate OpenSSH accepts. Also: key files that are not
 * usable CA keys are refused with a reason. Prints one line per case. */
#include "cert.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "unit.h"

static char tmpdir[] = "/run/unit_cert.XXXXXX";

static const struct cert_request request = {
	.principal = "bob",
	.key_id = "sshroute user=alice from=192.0.2.7 port=50000 route=alice",
	.source_address = "127.0.0.1",
	.validity = 300,
	.permit_port_forwarding = 1,
	.permit_agent_forwarding = 1,
	.permit_x11_forwarding = 1,
};

/* The output of command, NUL-terminated ("" when there is none). */
static char *output_of(const char *command)
{
	FILE *f = popen(command, "r");
	char *text = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&text, &size);
	int c;

	if (mem == NULL || f == NULL)
		exit(2);
	while ((c = getc(f)) != EOF)
		putc(c, mem);
	pclose(f);
	fclose(mem);
	return text;
}

/* Writes key's certificate as an OpenSSH public key line to path. */
static int write_cert(ssh_key key, const char *path)
{
	char *b64 = NULL;
	FILE *f;
	int rc = -1;

	if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK)
		return -1;
	f = fopen(path, "w");
	if (f != NULL && fprintf(f, "ssh-ed25519-cert-v01@openssh.com %s\n", b64) > 0)
		rc = 0;
	if (f != NULL && fclose(f) != 0)
		rc = -1;
	ssh_string_free_char(b64);
	return rc;
}

/* Each line of ssh-keygen -L that the certificate must show. */
static void check_listing(const char *name, const char *listing, const struct ca *ca)
{
	char signer[128];
	const char *want[] = {
		"user certificate", "Key ID: \"sshroute user=alice from=192.0.2.7 port=50000 route=alice\"",
		"Principals: \n                bob\n", "source-address 127.0.0.1",
		"permit-X11-forwarding", "permit-agent-forwarding", "permit-port-forwarding",
		"permit-pty", "permit-user-rc", signer,
	};
	size_t i;

	snprintf(signer, sizeof(signer), "Signing CA: %s %s", ca_type(ca), ca_fingerprint(ca));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (strstr(listing, want[i]) == NULL) {
			fail(name, "ssh-keygen -L does not show \"%s\":\n%s", want[i], listing);
			return;
		}
	}
	pass(name);
}

/* A CA of the given ssh-keygen type: loads, signs, and OpenSSH reads the
 * certificate with the validity asked for. */
static void check_ca(const char *name, const char *keygen_args)
{
	char command[256], *listing, *fp;
	struct ca *ca;
	ssh_key key;
	unsigned long long serial = 0;
	char why[256] = "";

	snprintf(command, sizeof(command), "ssh-keygen -q %s -N '' -C '' -f ca_%s", keygen_args, name);
	run(command);
	snprintf(command, sizeof(command), "ca_%s", name);
	if ((ca = ca_load(command, why, sizeof(why))) == NULL) {
		fail(name, "ca_load: %s", why);
		return;
	}
	snprintf(command, sizeof(command), "ssh-keygen -l -f ca_%s.pub", name);
	fp = output_of(command);
	if (strstr(fp, ca_fingerprint(ca)) == NULL)
		fail(name, "fingerprint %s, ssh-keygen says %s", ca_fingerprint(ca), fp);
	free(fp);
	key = cert_issue(ca, &request, &serial);
	if (key == NULL || write_cert(key, "cert.pub") < 0) {
		fail(name, "cert_issue failed");
	} else {
		listing = output_of("ssh-keygen -L -f cert.pub 2>&1");
		check_listing(name, listing, ca);
		snprintf(command, sizeof(command), "Serial: %llu\n", serial);
		if (strstr(listing, command) == NULL)
			fail(name, "serial %llu not in the listing", serial);
		free(listing);
	}
	ssh_key_free(key);
	ca_free(ca);
}

/* The validity: from CERT_SKEW before now to validity after, to the second
 * (ssh-keygen prints local time; TZ=UTC makes it comparable). */
static void check_validity(void)
{
	struct ca *ca;
	ssh_key key = NULL;
	unsigned long long serial;
	char why[256], from[32], to[32], *listing, *v;
	time_t before = time(NULL), after, start, end;
	struct tm tm;

	ca = ca_load("ca_ed25519", why, sizeof(why));
	if (ca != NULL)
		key = cert_issue(ca, &request, &serial);
	after = time(NULL);
	if (key == NULL || write_cert(key, "cert.pub") < 0) {
		fail("validity", "no certificate");
		goto out;
	}
	listing = output_of("TZ=UTC ssh-keygen -L -f cert.pub");
	v = strstr(listing, "Valid: from ");
	memset(&tm, 0, sizeof(tm));
	if (v == NULL || sscanf(v, "Valid: from %31s to %31s", from, to) != 2 ||
	    strptime(from, "%Y-%m-%dT%H:%M:%S", &tm) == NULL || (start = timegm(&tm)) < 0 ||
	    strptime(to, "%Y-%m-%dT%H:%M:%S", &tm) == NULL || (end = timegm(&tm)) < 0)
		fail("validity", "no validity in:\n%s", listing);
	else if (start < before - CERT_SKEW || start > after - CERT_SKEW ||
	         end - start != CERT_SKEW + request.validity)
		fail("validity", "valid from %s to %s, made between %ld and %ld", from, to,
		     (long)before, (long)after);
	else
		pass("validity: 60 s before now to certificate_validity after");
	free(listing);
out:
	ssh_key_free(key);
	ca_free(ca);
}

/* A key file that is no usable CA key: refused with a reason. */
static void check_refused(const char *name, const char *setup, const char *reason)
{
	char why[256] = "";
	struct ca *ca;

	run(setup);
	ca = ca_load("bad", why, sizeof(why));
	if (ca != NULL)
		fail(name, "loaded");
	else if (strstr(why, reason) == NULL)
		fail(name, "reason \"%s\", expected \"%s\"", why, reason);
	else
		pass(name);
	ca_free(ca);
	unlink("bad");
}

static void check_bad_files(void)
{
	check_refused("refused: missing file", "true", "cannot read");
	check_refused("refused: passphrase",
	              "ssh-keygen -q -t ed25519 -N secret -C '' -f bad && rm bad.pub", "passphrase");
	check_refused("refused: PEM format", "ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -f bad",
	              "not in OpenSSH's private key format");
	check_refused("refused: empty", ": >bad", "not in OpenSSH's private key format");
	check_refused("refused: damaged base64",
	              "sed '2s/^..../!!!!/' ca_ed25519 >bad", "damaged");
	check_refused("refused: truncated",
	              "{ head -n 2 ca_ed25519; tail -n 1 ca_ed25519; } >bad", "damaged");
	/* ed25519's public key sits at bytes 62..93 of the decoded file */
	check_refused("refused: public key of another key",
	              "ssh-keygen -q -t ed25519 -N '' -C '' -f other && /usr/bin/python3 -c \""
	              "import base64;a=open('ca_ed25519').read().split();b=open('other').read().split();"
	              "x=bytearray(base64.b64decode(''.join(a[4:-4])));"
	              "x[62:94]=base64.b64decode(''.join(b[4:-4]))[62:94];"
	              "print(' '.join(a[:4]));print(base64.b64encode(x).decode());print(' '.join(a[-4:]))"
	              "\" >bad", "does not match");
	/* a well-formed container around an ssh-dss private key */
	check_refused("refused: unsupported type",
	              "/usr/bin/python3 -c \"import base64,struct;"
	              "s=lambda b:struct.pack('>I',len(b))+b;"
	              "k=b'openssh-key-v1\\0'+s(b'none')+s(b'none')+s(b'')+struct.pack('>I',1)"
	              "+s(s(b'ssh-dss'))+s(b'\\1\\2\\3\\4'*2+s(b'ssh-dss'));"
	              "print('-----BEGIN OPENSSH PRIVATE KEY-----');print(base64.b64encode(k).decode());"
	              "print('-----END OPENSSH PRIVATE KEY-----')\" >bad", "type");
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL || chdir(tmpdir) != 0) {
		perror(tmpdir);
		return 2;
	}
	check_ca("ed25519", "-t ed25519");
	check_ca("ecdsa256", "-t ecdsa -b 256");
	check_ca("ecdsa384", "-t ecdsa -b 384");
	check_ca("ecdsa521", "-t ecdsa -b 521");
	check_ca("rsa", "-t rsa -b 3072");
	check_validity();
	check_bad_files();
	if (chdir("/") == 0)
		nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return unit_exit_status();
}

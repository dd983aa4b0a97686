#!/usr/bin/env bash
# Makes a development CA, TLS certificates and bearer tokens for kabar, with
# the openssl command-line tool. NOT for production: the CA key sits next to
# the certificates it signed and nothing is password-protected.
#
#   deploy/gen-dev-certs.sh [--force] OUT_DIR
#
# Writes into OUT_DIR (created if missing):
#   ca.pem, ca.key          the CA; give ca.pem to clients (--tls_ca) and to
#                           servers that require client certificates
#                           (--tls_client_ca)
#   server.pem, server.key  the services' certificate (--tls_cert/--tls_key),
#                           valid for localhost, 127.0.0.1, ::1 and the
#                           compose service names ingest, classify, store;
#                           usable as a client certificate too, so ingest can
#                           present it to classify and store under mutual TLS
#   client.pem, client.key  a client certificate (CN kabar-client) for the CLI
#                           (--tls_client_cert/--tls_client_key)
#   tokens.txt              a tokens file (--auth_tokens_file) holding only the
#                           SHA-256 digests of the three tokens below
#   service.token, read-write.token, read-only.token
#                           the tokens themselves (--token_file), one per role
# Certificates are valid for 825 days. An existing OUT_DIR/ca.pem is kept
# unless --force is given.
set -euo pipefail

force=0
if [ "${1:-}" = "--force" ]; then force=1; shift; fi
if [ $# -ne 1 ]; then
  echo "usage: $0 [--force] OUT_DIR" >&2
  exit 2
fi
out="$1"
command -v openssl >/dev/null || { echo "$0: openssl not found (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$out"
if [ -e "$out/ca.pem" ] && [ "$force" -eq 0 ]; then
  echo "$0: $out/ca.pem exists; pass --force to replace everything in $out" >&2
  exit 1
fi
umask 077
days=825
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# The CA.
key "$out/ca.key"
openssl req -x509 -new -key "$out/ca.key" -sha256 -days "$days" \
  -subj "/O=kabar development/CN=kabar development CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$out/ca.pem"

# sign NAME SUBJECT EXTENSIONS: NAME.key and NAME.pem signed by the CA.
sign() {
  local name="$1" subject="$2" extensions="$3"
  key "$out/$name.key"
  openssl req -new -key "$out/$name.key" -subj "$subject" -out "$work/$name.csr"
  printf '%s\n' "$extensions" > "$work/$name.ext"
  openssl x509 -req -in "$work/$name.csr" -CA "$out/ca.pem" -CAkey "$out/ca.key" \
    -CAcreateserial -CAserial "$work/ca.srl" -sha256 -days "$days" \
    -extfile "$work/$name.ext" -out "$out/$name.pem" 2>/dev/null
}

sign server "/O=kabar development/CN=kabar services" \
"basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1,DNS:ingest,DNS:classify,DNS:store"

sign client "/O=kabar development/CN=kabar-client" \
"basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"

# Tokens: 32 random bytes each; the tokens file keeps only their digests.
{
  echo "# kabar bearer tokens: sha256:DIGEST ROLE NAME (made by gen-dev-certs.sh)"
  for role in service read-write read-only; do
    token="$(openssl rand -hex 32)"
    printf '%s\n' "$token" > "$out/$role.token"
    digest="$(printf '%s' "$token" | openssl dgst -sha256 -r | cut -d' ' -f1)"
    echo "sha256:$digest $role dev-$role"
  done
} > "$out/tokens.txt"

# Containers run as another user; certificates and the tokens file must be
# readable there (the keys and the service token too, for a development
# setup).
chmod 644 "$out"/*.pem "$out"/*.key "$out/tokens.txt" "$out/service.token"
chmod 600 "$out/ca.key"
echo "kabar development CA, certificates and tokens written to $out" >&2

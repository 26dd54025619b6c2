#!/bin/sh
# Makes a throwaway certificate authority and a server certificate for the
# mock (127.0.0.1, ::1 and localhost) in the directory given as $1:
#   ca.key ca.crt       the CA (clients trust ca.crt, e.g. through a CA-file setting)
#   server.key server.crt  the server's key and certificate, signed by the CA
# Everything is created fresh on each run; keys are unencrypted test keys.
set -eu
dir=${1:?usage: make_ca.sh DIRECTORY}
days=${MOCK_CERT_DAYS:-30}
mkdir -p "$dir"
cd "$dir"
umask 077

openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
    -keyout ca.key -out ca.crt -subj "/CN=pg_attribution mock test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

cat > server.ext <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost
EXT
openssl req -newkey rsa:2048 -nodes -sha256 -keyout server.key -out server.csr \
    -subj "/CN=localhost" 2>/dev/null
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
    -days "$days" -sha256 -extfile server.ext -out server.crt 2>/dev/null
rm -f server.csr server.ext ca.srl
chmod 644 ca.crt server.crt
echo "$dir/ca.crt"

"""TLS for the mock: the throwaway CA (made by make_ca.sh) and the server context."""

import os
import ssl
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def ensure_certs(certdir):
    """Creates the CA and server certificate in certdir unless both exist.

    Returns the paths (ca_file, cert_file, key_file)."""
    ca = os.path.join(certdir, 'ca.crt')
    crt = os.path.join(certdir, 'server.crt')
    key = os.path.join(certdir, 'server.key')
    if not (os.path.exists(ca) and os.path.exists(crt) and os.path.exists(key)):
        subprocess.run(['sh', os.path.join(HERE, 'make_ca.sh'), certdir],
                       check=True, stdout=subprocess.DEVNULL)
    return ca, crt, key


def server_context(cert_file, key_file):
    """A server-side context: TLS 1.2+, HTTP/1.1 offered by ALPN (the mock
    speaks no HTTP/2, so a client asking for h2 falls back cleanly)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    ctx.set_alpn_protocols(['http/1.1'])
    return ctx


def client_context(ca_file):
    """A client context trusting only the mock's CA (used by the self-test)."""
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.set_alpn_protocols(['http/1.1'])
    return ctx

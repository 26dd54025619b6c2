#!/usr/bin/env python3
"""A small, fast stand-in for the ad platforms' conversion endpoints.

An optional target of the delivery benchmark (SINK=standin), to tell the
worker's cost from the contract mock's; the tests use the mock.  It
answers each platform's success shape (Google uploadClickConversions and
uploadConversionAdjustments, Meta events, TikTok event/track, LinkedIn
conversionEvents, a webhook), records every de-duplication key it accepted,
and injects faults on command.  It checks only what the worker is
responsible for (paths, auth headers, envelopes); the strict contract mock
lives in test/mock/.

Usage: platform_sink.py PORT [--tls CERT KEY]
Control:
  GET  /_stats            {"requests": {platform: n}, "events": {platform: n},
                           "unique": {platform: n}, "statuses": {code: n}}
  GET  /_keys?platform=p  {"keys": {dedup_key: times accepted}}
  POST /_config           {"p5xx": 0.2, "p429": 0.1, "ptimeout": 0.02,
                           "timeout_s": 3, "retry_after": 1,
                           "expired_tokens": ["t1"], "fail_all": 503}
  POST /_reset            forget everything
Event ids / order ids starting with "bad_" are refused by the platform's
per-row (or whole-batch, for Meta) error; "dup_" are reported as already
uploaded (Google); "recent_" as TOO_RECENT_EVENT (Google).
"""
import json
import random
import re
import socket
import ssl
import sys
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LOCK = threading.RLock()
STATE = {}
CONFIG = {}


def reset():
    with LOCK:
        STATE.clear()
        STATE.update(requests=Counter(), events=Counter(), statuses=Counter(),
                     keys=defaultdict(Counter), auth=Counter())
        CONFIG.clear()
        CONFIG.update(p5xx=0.0, p429=0.0, ptimeout=0.0, timeout_s=3.0,
                      retry_after=1, expired_tokens=[], fail_all=0, delay_s=0)


reset()


def accept(platform, keys):
    with LOCK:
        STATE["events"][platform] += len(keys)
        for k in keys:
            STATE["keys"][platform][k] += 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # headers and body leave in two writes: without this, Nagle's
        # algorithm and the client's delayed ACK add 40 ms to every answer
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def reply(self, status, obj, headers=None):
        body = json.dumps(obj).encode()
        with LOCK:
            STATE["statuses"][str(status)] += 1
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/_stats":
            with LOCK:
                self.reply(200, {
                    "requests": dict(STATE["requests"]),
                    "events": dict(STATE["events"]),
                    "unique": {p: len(k) for p, k in STATE["keys"].items()},
                    "statuses": dict(STATE["statuses"]),
                    "auth_failures": dict(STATE["auth"])})
        elif url.path == "/_keys":
            p = parse_qs(url.query).get("platform", [""])[0]
            with LOCK:
                self.reply(200, {"keys": dict(STATE["keys"].get(p, {}))})
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self):
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length) if length else b""
        if url.path == "/_reset":
            reset()
            return self.reply(200, {"ok": True})
        if url.path == "/_config":
            with LOCK:
                CONFIG.update(json.loads(raw or b"{}"))
            return self.reply(200, {"ok": True})

        platform, token = self.platform_of(url)
        if platform is None:
            return self.reply(404, {"error": "unknown path"})
        with LOCK:
            STATE["requests"][platform] += 1
            if platform == "webhook":
                STATE["requests"][url.path] += 1
            cfg = dict(CONFIG)
        if cfg["fail_all"]:
            return self.reply(int(cfg["fail_all"]), {"error": {"code": cfg["fail_all"], "message": "injected"}})
        if url.path.startswith("/webhook/fail"):
            return self.reply(503, {"error": "always failing"})
        if cfg["delay_s"]:
            time.sleep(float(cfg["delay_s"]))
        r = random.random()
        if r < cfg["ptimeout"]:
            time.sleep(float(cfg["timeout_s"]))
            return self.reply(504, {"error": {"code": 504, "message": "late"}})
        r -= cfg["ptimeout"]
        if r < cfg["p5xx"]:
            return self.reply(503, {"error": {"code": 503, "message": "injected"}})
        r -= cfg["p5xx"]
        if r < cfg["p429"]:
            return self.rate_limited(platform, cfg)
        if not token or token in cfg["expired_tokens"]:
            with LOCK:
                STATE["auth"][platform] += 1
            return self.auth_failed(platform)
        try:
            body = json.loads(raw)
        except ValueError:
            return self.reply(400, {"error": {"code": 400, "message": "body is not JSON"}})
        return getattr(self, "handle_" + platform)(url, body)

    def platform_of(self, url):
        p = url.path
        h = self.headers
        bearer = (h.get("Authorization") or "")
        bearer = bearer[7:] if bearer.startswith("Bearer ") else ""
        if re.fullmatch(r"/v\d+/customers/\d+:upload(ClickConversions|ConversionAdjustments)", p):
            return "google_ads", bearer
        if re.fullmatch(r"/v\d+\.\d+/[^/]+/events", p):
            return "meta", parse_qs(url.query).get("access_token", [""])[0]
        if p == "/open_api/v1.3/event/track/":
            return "tiktok", h.get("Access-Token", "")
        if p == "/rest/conversionEvents":
            ok = (h.get("X-Restli-Protocol-Version") == "2.0.0" and
                  h.get("X-RestLi-Method") == "BATCH_CREATE" and h.get("LinkedIn-Version"))
            return ("linkedin", bearer) if ok else (None, None)
        if p.startswith("/webhook"):
            return "webhook", bearer or "webhook"
        return None, None

    def rate_limited(self, platform, cfg):
        ra = {"Retry-After": str(cfg["retry_after"])}
        if platform == "google_ads":
            return self.reply(429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Too many requests.",
                              "details": [{"errors": [{"errorCode": {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"},
                                                       "details": {"quotaErrorDetails": {"retryDelay": "%ss" % cfg["retry_after"]}}}]}]}}, ra)
        if platform == "meta":
            return self.reply(400, {"error": {"message": "User request limit reached", "type": "OAuthException", "code": 17}}, ra)
        if platform == "tiktok":
            return self.reply(200, {"code": 40100, "message": "Too many requests.", "request_id": "tt-429", "data": {}}, ra)
        return self.reply(429, {"status": 429, "code": "TOO_MANY_REQUESTS", "message": "throttled"}, ra)

    def auth_failed(self, platform):
        if platform == "google_ads":
            return self.reply(401, {"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "expired",
                              "details": [{"errors": [{"errorCode": {"authenticationError": "OAUTH_TOKEN_EXPIRED"},
                                                       "message": "OAuth token in the header has expired."}]}]}})
        if platform == "meta":
            return self.reply(400, {"error": {"message": "Error validating access token: Session has expired.",
                                              "type": "OAuthException", "code": 190, "error_subcode": 463}})
        if platform == "tiktok":
            return self.reply(200, {"code": 40102, "message": "Access token has expired.", "request_id": "tt-401", "data": {}})
        if platform == "linkedin":
            return self.reply(401, {"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN",
                                    "message": "Invalid access token"})
        return self.reply(401, {"error": "unauthorized"})

    def handle_google_ads(self, url, body):
        adj = url.path.endswith("ConversionAdjustments")
        rows = body.get("conversionAdjustments" if adj else "conversions")
        if not isinstance(rows, list) or body.get("partialFailure") is not True:
            return self.reply(400, {"error": {"code": 400, "message": "bad envelope", "status": "INVALID_ARGUMENT"}})
        results, errors, keys = [], [], []
        field = "conversionAdjustments" if adj else "conversions"
        for i, row in enumerate(rows):
            oid = str(row.get("orderId", ""))
            code = None
            if oid.startswith("bad_"):
                code = {"conversionUploadError": "EVENT_NOT_FOUND"}
            elif oid.startswith("dup_"):
                code = {"conversionUploadError": "ORDER_ID_ALREADY_IN_USE"}
            elif oid.startswith("recent_"):
                code = {"conversionUploadError": "TOO_RECENT_EVENT"}
            if code:
                results.append({})
                errors.append({"errorCode": code, "message": "row refused",
                               "location": {"fieldPathElements": [{"fieldName": field, "index": i}]}})
            else:
                results.append({"orderId": oid})
                keys.append((row.get("adjustmentType", "") + ":" if adj else "") + oid)
        accept("google_ads", keys)
        out = {"results": results, "jobId": "1"}
        if errors:
            out["partialFailureError"] = {"code": 3, "message": "partial failure", "details": [
                {"@type": "type.googleapis.com/google.ads.googleads.v24.errors.GoogleAdsFailure",
                 "errors": errors, "requestId": "sink-req"}]}
        return self.reply(200, out, {"request-id": "sink-google"})

    def handle_meta(self, url, body):
        data = body.get("data")
        if not isinstance(data, list) or not data or len(data) > 1000:
            return self.reply(400, {"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100}})
        now = time.time()
        for ev in data:
            if now - float(ev.get("event_time", now)) > 7 * 86400:
                return self.reply(400, {"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100,
                                                  "error_subcode": 2804003, "error_user_title": "Event Timestamp Too Old"}})
            if str(ev.get("event_id", "")).startswith("bad_"):
                return self.reply(400, {"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100}})
        accept("meta", [str(ev.get("event_id")) for ev in data])
        return self.reply(200, {"events_received": len(data), "messages": [], "fbtrace_id": "sinktrace"})

    def handle_tiktok(self, url, body):
        data = body.get("data")
        if not isinstance(data, list) or not body.get("event_source_id"):
            return self.reply(200, {"code": 40002, "message": "bad envelope", "request_id": "tt", "data": {}})
        failed = [{"index": i, "code": 40002, "message": "data.%d: invalid" % i}
                  for i, ev in enumerate(data) if str(ev.get("event_id", "")).startswith("bad_")]
        bad = {f["index"] for f in failed}
        accept("tiktok", [str(ev.get("event_id")) for i, ev in enumerate(data) if i not in bad])
        if failed:
            return self.reply(200, {"code": 20001, "message": "Partial success", "request_id": "tt-partial",
                                    "data": {"failed_events": failed}})
        return self.reply(200, {"code": 0, "message": "OK", "request_id": "tt-ok", "data": {}})

    def handle_linkedin(self, url, body):
        els = body.get("elements")
        if not isinstance(els, list):
            return self.reply(400, {"status": 400, "message": "bad envelope"})
        bad = [i for i, e in enumerate(els) if str(e.get("eventId", "")).startswith("bad_")]
        if bad:
            msg = "".join("Index: %d, ERROR :: /eventId :: refused\n" % i for i in bad)
            return self.reply(422, {"status": 422, "message": msg})
        accept("linkedin", [str(e.get("eventId")) for e in els])
        return self.reply(200, {"elements": [{"status": 201} for _ in els]}, {"x-li-uuid": "sink-li"})

    def handle_webhook(self, url, body):
        key = self.headers.get("Idempotency-Key", "")
        accept("webhook", [key])
        return self.reply(200, {"ok": True})


def main():
    port = int(sys.argv[1])
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    if len(sys.argv) >= 5 and sys.argv[2] == "--tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()

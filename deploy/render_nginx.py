"""Render deploy/nginx/schadenportal.conf.template into an nginx site file (stdlib only).

    python deploy/render_nginx.py --replicas 8501,8502,8503 --server-name portal.example.de \
        --base-url https://portal.example.de --upload-max-mb 20 \
        --cert /etc/letsencrypt/live/portal.example.de/fullchain.pem \
        --key /etc/letsencrypt/live/portal.example.de/privkey.pem \
        -o /etc/nginx/sites-available/schadenportal

Every placeholder (an upper-case name between at-signs) of the template must get a value; an unknown or a missing one is an error.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "nginx" / "schadenportal.conf.template"
_PLACEHOLDER = re.compile(r"@([A-Z_]+)@")


def render(values: dict[str, str], template: str | None = None) -> str:
    """The template with every placeholder replaced (ValueError when one has no value)."""
    text = TEMPLATE.read_text(encoding="utf-8") if template is None else template
    missing = sorted(set(_PLACEHOLDER.findall(text)) - set(values))
    if missing:
        raise ValueError(f"no value for {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def values_from(args: argparse.Namespace) -> dict[str, str]:
    ports = [int(p) for p in str(args.replicas).split(",") if p.strip()]
    if not ports:
        raise ValueError("--replicas needs at least one port")
    host = args.replica_host
    servers = "\n".join(f"    server {host}:{port} max_fails=1 fail_timeout=10s;" for port in ports)
    base_url = args.base_url.rstrip("/")
    if not base_url.startswith("https://"):
        raise ValueError("--base-url must start with https:// (the same value as BASE_URL of the app)")
    return {
        "UPSTREAM_SERVERS": servers,
        "SERVER_NAME": args.server_name,
        "BASE_URL": base_url,
        "HTTP_LISTEN": args.http_listen,
        "HTTPS_LISTEN": args.https_listen,
        "TLS_CERTIFICATE": args.cert,
        "TLS_CERTIFICATE_KEY": args.key,
        "CLIENT_MAX_BODY_SIZE": f"{args.upload_max_mb + 1}m",
        "ACCESS_LOG": args.access_log,
        "API_UPSTREAM": args.api,
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--replicas", required=True, help="ports of the app replicas, comma-separated (8501,8502)")
    p.add_argument("--replica-host", default="127.0.0.1", help="where the replicas listen (default 127.0.0.1)")
    p.add_argument("--api", default="127.0.0.1:8503",
                   help="host:port of the REST API (python -m core api; default 127.0.0.1:8503)")
    p.add_argument("--server-name", required=True, help="host name of the portal (nginx server_name)")
    p.add_argument("--base-url", required=True, help="BASE_URL of the app, https://…")
    p.add_argument("--cert", required=True, help="TLS certificate chain (PEM)")
    p.add_argument("--key", required=True, help="TLS private key (PEM)")
    p.add_argument("--upload-max-mb", type=int, default=20, help="UPLOAD_MAX_MB of the app (default 20)")
    p.add_argument("--http-listen", default="80", help="nginx listen value for plain HTTP (default 80)")
    p.add_argument("--https-listen", default="443", help="nginx listen value for HTTPS (default 443)")
    p.add_argument("--access-log", default="/var/log/nginx/schadenportal.access.log")
    p.add_argument("-o", "--output", help="file to write (default: standard output)")
    args = p.parse_args(argv)
    try:
        text = render(values_from(args))
    except ValueError as exc:
        p.error(str(exc))
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

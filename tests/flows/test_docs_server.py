"""`debtflow docs --serve`: the built docs served on 127.0.0.1 only, the URL printed."""

from __future__ import annotations

import threading
import urllib.request
from pathlib import Path

import pytest

from debtflow.flows import cli
from debtflow.flows.build import docs_server, transform
from debtflow.flows.core.settings import get_settings


def test_the_folder_is_served_on_localhost(tmp_path: Path):
    (tmp_path / "index.html").write_text("<p>the docs</p>")
    with docs_server.server(tmp_path, port=0) as httpd:
        assert httpd.server_address[0] == "127.0.0.1"
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            with urllib.request.urlopen(docs_server.url_of(httpd) + "index.html", timeout=5) as r:
                assert r.status == 200 and r.read() == b"<p>the docs</p>"
        finally:
            httpd.shutdown()
            thread.join(5)


def test_docs_serve_builds_then_prints_the_url(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    served = []
    monkeypatch.setattr(transform, "docs", lambda settings, as_of: tmp_path)

    def serve(folder: Path, port: int, ready) -> None:  # returns at once instead of blocking
        served.append((folder, port))
        ready("http://127.0.0.1:8580/")

    monkeypatch.setattr(docs_server, "serve", serve)
    args = cli.parser().parse_args(["docs", "--serve"])
    result = args.spec.handler(args, get_settings())
    assert served == [(tmp_path, 8580)]
    assert result == {"site": f"{tmp_path}/index.html"}
    assert "dbt docs at http://127.0.0.1:8580/ (Ctrl-C stops)" in capsys.readouterr().err

"""A small client for Airflow's REST API v2, as the main job and the end-to-end tests drive Airflow.

Every call carries a JWT from `POST /auth/token` (user `admin`, password AIRFLOW_ADMIN_PASSWORD from `.env`). The
same call also answers while the stack runs in all-admins mode, so clients never depend on which mode is on.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from include.settings import Settings, get_settings


class AirflowApiError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, detail: str):
        super().__init__(f"{method} {path}: HTTP {status}: {detail[:500]}")
        self.status = status


class AirflowApi:
    def __init__(self, settings: Settings | None = None, timeout: float = 60):
        self.settings = settings or get_settings()
        self.base = f"http://127.0.0.1:{self.settings.airflow_port}"
        self.timeout = timeout
        self._token: str | None = None

    def token(self) -> str:
        user = os.environ.get("AIRFLOW_ADMIN_USER", "admin")
        password = os.environ.get("AIRFLOW_ADMIN_PASSWORD", "")
        try:
            body = self._send("POST", "/auth/token", {"username": user, "password": password}, auth=False)
        except AirflowApiError as exc:
            if exc.status in (401, 403):
                raise AirflowApiError("POST", "/auth/token", exc.status,
                                      f"Airflow refused user {user!r}: check AIRFLOW_ADMIN_PASSWORD in .env") from None
            raise
        return body["access_token"]

    def _send(self, method: str, path: str, body: Any = None, params: dict | None = None, auth: bool = True):
        url = self.base + path + (f"?{urllib.parse.urlencode(params, doseq=True)}" if params else "")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self._token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise AirflowApiError(method, path, exc.code, exc.read().decode(errors="replace")) from None
        return json.loads(raw) if raw else None

    def call(self, method: str, path: str, body: Any = None, params: dict | None = None, attempts: int = 4):
        """One API call; a busy or restarting API server (timeouts, refused connections) is retried."""
        for attempt in range(1, attempts + 1):
            try:
                return self._authorised(method, path, body, params)
            except (TimeoutError, ConnectionError, urllib.error.URLError):
                if attempt == attempts:
                    raise
                time.sleep(2 * attempt)
        raise AssertionError("unreachable")

    def _authorised(self, method: str, path: str, body: Any, params: dict | None):
        if self._token is None:
            self._token = self.token()
        try:
            return self._send(method, path, body, params)
        except AirflowApiError as exc:
            if exc.status != 401:
                raise
            # Expired token, or the stack restarted with a new signing key: log in again once.
            self._token = self.token()
            return self._send(method, path, body, params)

    def get(self, path: str, **params):
        return self.call("GET", path, params=params or None)

    def post(self, path: str, body: Any):
        return self.call("POST", path, body)

    def patch(self, path: str, body: Any, **params):
        return self.call("PATCH", path, body, params or None)

    def delete(self, path: str):
        return self.call("DELETE", path)

"""A small client of Label Studio's REST API over `requests` (the `label` extra), every call with a time-out.

Plain HTTP rather than `label-studio-sdk`: the SDK pins opencv-python-headless < 4.13 and pulls in pandas, nltk and a
code generator, which would downgrade the OpenCV the runtime was verified with. A token is either a personal access
token (a JWT, Label Studio >= 1.17: exchanged for short-lived access tokens, renewed when one expires) or a legacy
API token.
"""

from __future__ import annotations

from pathlib import Path

import requests

#: seconds to connect, and to wait for an answer (an upload of one frame, an export of a project)
TIMEOUT = (5.0, 60.0)


class LabelStudioError(RuntimeError):
    """A call Label Studio refused or did not answer, in one line."""


class LabelStudio:
    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url.rstrip("/"), token
        self.session = requests.Session()
        self._authorise()

    def _authorise(self) -> None:
        if self.token.count(".") == 2:  # a personal access token
            access = self._send("POST", "/api/token/refresh/", json={"refresh": self.token})["access"]
            self.session.headers["Authorization"] = f"Bearer {access}"
        else:
            self.session.headers["Authorization"] = f"Token {self.token}"

    def request(self, method: str, path: str, **kwargs) -> object:
        """The JSON answer to ``method path``; an expired access token is renewed once."""
        return self._send(method, path, renew=True, **kwargs)

    def _send(self, method: str, path: str, renew: bool = False, **kwargs) -> object:
        where = f"Label Studio at {self.url}: {method} {path}"
        try:
            answer = self.session.request(method, self.url + path, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            raise LabelStudioError(f"{where}: {type(exc).__name__}") from None
        if answer.status_code == 401 and renew and self.session.headers["Authorization"].startswith("Bearer"):
            self._authorise()
            return self._send(method, path, **kwargs)
        if not answer.ok:
            raise LabelStudioError(
                f"Label Studio at {self.url}: {method} {path}: HTTP {answer.status_code}: {_why(answer)}"
            )
        return answer.json() if answer.content else None

    def create_project(self, title: str, label_config: str, model_version: str = "") -> int:
        """A new project's id; `model_version`: the predictions it pre-labels tasks with."""
        project = {"title": title, "label_config": label_config, "model_version": model_version}
        return self.request("POST", "/api/projects", json=project)["id"]

    def add_frame(self, project: int, image: Path, data: dict, result: list[dict], model_version: str) -> int:
        """Upload an image as a new task of `project`, with `data` beside its URL and `result` as the model's
        pre-annotation; the task's id."""
        upload = {"file": (image.name, image.read_bytes())}  # bytes, not a file: a renewed call sends them again
        done = self.request("POST", f"/api/projects/{project}/import", params={"return_task_ids": "true"}, files=upload)
        task = done["task_ids"][0]
        uploaded = self.request("GET", f"/api/tasks/{task}")["data"]
        self.request("PATCH", f"/api/tasks/{task}", json={"data": {**uploaded, **data}})
        self.request("POST", "/api/predictions", json={"task": task, "result": result, "model_version": model_version})
        return task


def _why(answer: requests.Response) -> str:
    """The reason in an error answer: Label Studio's 'detail' and validation errors, else the start of the body."""
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:200].strip() or answer.reason
    if not isinstance(body, dict):
        return str(body)[:200]
    return " ".join(str(body[k]) for k in ("detail", "validation_errors") if body.get(k)) or str(body)[:200]

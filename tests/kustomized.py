"""manifests/herald/ rendered as `kubectl apply -k` would apply it: `kubectl kustomize`
(or a standalone `kustomize build`) over an overlay, parsed into its objects."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.harness.fixtures import require_or_skip

MANIFESTS = Path(__file__).resolve().parents[1] / "manifests" / "herald"
Doc = dict[str, Any]


def find_renderer() -> list[str]:
    """`kubectl kustomize`, or `kustomize build` where only kustomize is installed."""
    if (kubectl := shutil.which("kubectl")) is not None:
        return [kubectl, "kustomize"]
    if (kustomize := shutil.which("kustomize")) is not None:
        return [kustomize, "build"]
    require_or_skip("neither kubectl nor kustomize is installed")


def render(directory: Path) -> Rendered:
    """Every object the kustomization in `directory` renders to."""
    done = subprocess.run(
        [*find_renderer(), str(directory)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"kustomize {directory}:\n{done.stderr}"
    return Rendered([doc for doc in yaml.safe_load_all(done.stdout) if doc is not None])


@dataclass(frozen=True)
class Rendered:
    docs: list[Doc]

    def one(self, kind: str, name: str | None = None) -> Doc:
        found = [
            doc
            for doc in self.docs
            if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name)
        ]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    def kinds(self) -> list[str]:
        return sorted(doc["kind"] for doc in self.docs)

    @property
    def pod(self) -> Doc:
        spec: Doc = self.one("Deployment")["spec"]["template"]["spec"]
        return spec

    @property
    def container(self) -> Doc:
        (container,) = self.pod["containers"]
        assert isinstance(container, dict)
        return container

    def mounted(self, path: str) -> Doc:
        """The pod volume mounted at `path`."""
        (mount,) = [m for m in self.container["volumeMounts"] if m["mountPath"] == path]
        (volume,) = [v for v in self.pod["volumes"] if v["name"] == mount["name"]]
        assert isinstance(volume, dict)
        return volume


def write_overlay(directory: Path, *, resources: list[Path], components: list[Path]) -> Path:
    """A user's own overlay in `directory` (as manifests/herald/README.md shows it); kustomize
    takes only relative paths to other kustomizations."""
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(path, directory) for path in resources],
        "components": [os.path.relpath(path, directory) for path in components],
    }
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return directory

"""Unit tests for lab/dockyard_lab/images.py: recipe hashes and removing the lab images."""

from __future__ import annotations

import subprocess

import pytest

from dockyard_lab import images as lab_images


def test_tree_hash_changes_with_content(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM a\n")
    first = lab_images.tree_hash(tmp_path, "x")
    assert first == lab_images.tree_hash(tmp_path, "x")
    assert first != lab_images.tree_hash(tmp_path, "y")
    (tmp_path / "Dockerfile").write_text("FROM b\n")
    assert first != lab_images.tree_hash(tmp_path, "x")


def test_remove_lab_images_repeats_until_base_images_are_gone(monkeypatch):
    # "base" cannot be removed while "child" (built FROM base) exists, as with systemd -> dind.
    images = {"base", "child", "other"}
    removals = []

    def fake(*args, check=True):
        if args[0] == "images":
            return subprocess.CompletedProcess(args, 0, stdout="\n".join(sorted(images)) + "\n", stderr="")
        removals.append(args[3:])
        for image in args[3:]:
            if image != "base" or "child" not in images:
                images.discard(image)
        return subprocess.CompletedProcess(args, 1 if "base" in images else 0, stdout="", stderr="")

    monkeypatch.setattr(lab_images, "docker", fake)
    lab_images.remove_lab_images()
    assert images == set()
    assert removals == [("base", "child", "other"), ("base",)]


def test_other_debian_releases_get_their_own_tags_and_recipes(monkeypatch):
    assert lab_images.suite_image("dind") == f"{lab_images.PREFIX}/dind:latest"
    assert lab_images.suite_image("dind", "trixie") == f"{lab_images.PREFIX}/dind-trixie:latest"
    labels = {}
    monkeypatch.setattr(lab_images, "image_label", lambda tag, label=None: labels.get(tag))
    # The default release's image keeps the recipe it had before other releases were added.
    labels[f"{lab_images.PREFIX}/systemd:latest"] = lab_images.tree_hash(
        lab_images.IMAGES_DIR / "systemd", lab_images.SUITE, ",".join(lab_images.BASE_PACKAGES),
        ",".join(lab_images.MASKED_UNITS))
    result = lab_images.build_systemd()
    assert (result.name, result.built) == ("systemd", False)
    # Another release hashes to another recipe: it never stands in for the default one.
    labels[f"{lab_images.PREFIX}/systemd-trixie:latest"] = labels[f"{lab_images.PREFIX}/systemd:latest"]
    monkeypatch.setattr(lab_images.shutil, "which", lambda name: None)  # stop where a build would start
    with pytest.raises(SystemExit, match="debootstrap is missing"):
        lab_images.build_systemd(suite="trixie")

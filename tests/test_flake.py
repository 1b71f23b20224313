"""The Nix flake: parses with real Nix; its outputs evaluate against a stub nixpkgs (nixpkgs itself cannot be
fetched here); it reads nix/toolchain.json; the uv wrapper and the shell hook behave.

Tests that need Nix skip when `nix-instantiate` is absent (CI installs it: `apt-get install -y nix-bin`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NIX = shutil.which("nix-instantiate")
needs_nix = pytest.mark.skipif(NIX is None, reason="nix is not installed (Debian/Ubuntu: apt-get install -y nix-bin)")
FLAKE_FILES = (
    "flake.nix",
    "flake.lock",
    "nix",
    "lockgen/pyproject.toml",
    "uv.lock",
    "workspaces/train/pyproject.toml",
    "workspaces/serve/pyproject.toml",
)


def nix_eval(expr: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`nix-instantiate --eval --strict --json` of an expression; --readonly-mode writes nothing to the store."""
    assert NIX
    return subprocess.run(
        [NIX, "--readonly-mode", "--eval", "--strict", "--json", "-E", expr],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def nix_value(expr: str, cwd: Path = REPO) -> object:
    res = nix_eval(expr, cwd)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def copy_flake(dest: Path, toolchain: dict | None = None) -> Path:
    """The flake's own files in a fresh directory (optionally with another nix/toolchain.json)."""
    for rel in FLAKE_FILES:
        src = REPO / rel
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dest / rel, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / rel)
    if toolchain is not None:
        (dest / "nix/toolchain.json").write_text(json.dumps(toolchain), encoding="utf-8")
    return dest


# A stand-in for nixpkgs with just what the flake uses. Outputs are attrsets with outPath; python's and
# lockgen's outPaths can be real directories so that the generated shell hook can run. Each flake input gets its own
# stub, named @stubName@, with the CUDA sets lockgen's table says that input's pinned revision has (@cudaSets@).
STUB = r"""
{ system, config ? { } }:
let
  drv = name: { outPath = "/nix/store/00000000000000000000000000000000-${name}"; inherit name; type = "derivation"; };
  cudaSet = v: {
    cudatoolkit = drv "cuda-merged-${v}";
    backendStdenv = { name = "cuda-backend-stdenv-${v}"; cc = drv "gcc-for-cuda-${v}"; };
  };
  pypkgs = {
    buildPythonApplication = a: drv "${a.pname}-${a.version}" // {
      outPath = @lockgenOut@;
      inherit (a.passthru) pythonDependencies;
      buildSystem = map (p: p.name) a.build-system;
      deps = map (p: p.name) a.dependencies;
    };
    pytest = drv "pytest"; hypothesis = drv "hypothesis";
  } // builtins.listToAttrs (map (n: { name = n; value = drv n; }) @pythonPackages@);
  shellWith = stdenv: args: { type = "derivation"; name = args.name; outPath = "/nix/store/shell";
                              shellArgs = args; stdenvName = stdenv.name; mkShellFrom = "@stubName@"; };
  stdenv = { name = "stdenv"; cc.cc.lib = drv "gcc-lib"; };
in
{
  inherit system config stdenv;
  stubName = "@stubName@";
  python312 = drv "python3-3.12" // { outPath = @pythonOut@; pkgs = pypkgs; withPackages = f: drv "python-env"; };
  uv = drv "uv"; zlib = drv "zlib"; nixfmt = drv "nixfmt";
  bashInteractive = drv "bash"; coreutils = drv "coreutils"; cacert = drv "cacert";
  lib.makeLibraryPath = ps: builtins.concatStringsSep ":" (map (p: "${p}/lib") ps);
  mkShell = { __functor = self: shellWith stdenv; override = o: shellWith o.stdenv; };
  writeShellScriptBin = name: text: drv "wrapper-${name}" // { inherit text; };
  runCommand = name: env: script: drv name // { inherit script env; };
  fetchurl = a: drv a.name // { inherit (a) url sha256; };
  dockerTools.buildLayeredImage = a: drv "docker-image-${a.name}.tar.gz" // {
    inherit (a) config; contents = map (p: p.name) a.contents;
  };
} // builtins.listToAttrs (map (v: {
  name = "cudaPackages_" + builtins.replaceStrings [ "." ] [ "_" ] v; value = cudaSet v;
}) @cudaSets@)
"""

SHOW = """
let
  flake = import {flake}/flake.nix;
  out = flake.outputs {{
    self = {{ outPath = {flake}; }};
    nixpkgs = {{ outPath = {stubs}/nixpkgs; }};
    nixpkgs-cuda-legacy = {{ outPath = {stubs}/nixpkgs-cuda-legacy; }};
    nixpkgs-cuda-next = {{ outPath = {stubs}/nixpkgs-cuda-next; }};
  }};
  show = s: {{
    name = s.name; stdenv = s.stdenvName; mkShellFrom = s.mkShellFrom;
    packages = map (p: p.name) s.shellArgs.packages;
    env = builtins.removeAttrs s.shellArgs [ "packages" "shellHook" "name" ];
    hook = s.shellArgs.shellHook;
    uvWrapper = if builtins.head s.shellArgs.packages ? text then (builtins.head s.shellArgs.packages).text else null;
  }};
in {{
  description = flake.description;
  nixConfig = flake.nixConfig;
  inputs = builtins.mapAttrs (_: i: i.url) flake.inputs;
  systems = builtins.attrNames out.devShells;
  shells = builtins.mapAttrs (_: show) out.devShells.x86_64-linux;
  aarch64 = builtins.mapAttrs (_: show) out.devShells.aarch64-linux;
  lockgen = {{ inherit (out.packages.x86_64-linux.lockgen) name buildSystem deps; }};
  packages = builtins.mapAttrs (_: builtins.attrNames) out.packages;
  checks = builtins.attrNames out.checks.x86_64-linux;
  formatter = out.formatter.x86_64-linux.name;
}}
"""

INPUTS = {
    "nixpkgs": "0d9e9b832d03ac387417e16ce1febf73b2e631e1",
    "nixpkgs-cuda-legacy": "ac62194c3917d5f474c1a844b6fd6da2db95077d",
    "nixpkgs-cuda-next": "07e1d92cdc0ed416cfa11ff3ca40d17e61cfba7a",
}


def table_sets(rev: str) -> list[str]:
    """The CUDA versions lockgen's nixpkgs table says `rev` has, read here from the data file itself."""
    data = tomllib.loads((REPO / "lockgen/src/lockgen/tables/data/nixpkgs.toml").read_text(encoding="utf-8"))
    (row,) = [r for r in data["revision"] if r["rev"] == rev]
    return [s.removeprefix("cudaPackages_").replace("_", ".") for s in row["cuda_sets"]]


def lockgen_requirement_names() -> dict[str, list[str]]:
    """lockgen's build and runtime requirements as nixpkgs names, read here independently of nix/lib.nix."""
    project = tomllib.loads((REPO / "lockgen/pyproject.toml").read_text(encoding="utf-8"))

    def name(req: str) -> str:
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
        assert m, req
        return re.sub(r"[._]", "-", m.group(1)).lower()

    return {
        "build": [name(r) for r in project["build-system"]["requires"]],
        "deps": [name(r) for r in project["project"]["dependencies"]],
    }


def stub_dir(
    tmp: Path,
    python_out: str = "/nix/store/00000000000000000000000000000000-python3-3.12",
    lockgen_out: str = "/nix/store/00000000000000000000000000000000-lockgen-0.1.0",
    sets: dict[str, list[str]] | None = None,
) -> Path:
    """One stub nixpkgs per flake input under tmp/stubs/<input>; CUDA sets per lockgen's table unless `sets`."""
    names = lockgen_requirement_names()
    root = tmp / "stubs"
    for name, rev in INPUTS.items():
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        cuda = (sets or {}).get(name, table_sets(rev))
        text = (
            STUB.replace("@pythonOut@", json.dumps(python_out))
            .replace("@lockgenOut@", json.dumps(lockgen_out))
            .replace("@pythonPackages@", "[ " + " ".join(json.dumps(n) for n in names["build"] + names["deps"]) + " ]")
            .replace("@cudaSets@", "[ " + " ".join(json.dumps(v) for v in cuda) + " ]")
            .replace("@stubName@", name)
        )
        (d / "default.nix").write_text(text, encoding="utf-8")
    return root


def evaluate(flake: Path, stubs: Path) -> dict:
    value = nix_value(SHOW.format(flake=flake, stubs=stubs), flake)
    assert isinstance(value, dict)
    return value


# ---- parsing ----


@needs_nix
@pytest.mark.parametrize("rel", ["flake.nix", "nix/lib.nix", "nix/shell.nix", "nix/lockgen.nix", "nix/image.nix"])
def test_nix_files_parse(rel: str) -> None:
    res = subprocess.run([NIX, "--parse", str(REPO / rel)], capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr


def flake_metadata(flake: Path) -> subprocess.CompletedProcess[str]:
    """`nix flake metadata --offline --json path:FLAKE` (never writes the lock file)."""
    nix = shutil.which("nix")
    assert nix
    return subprocess.run(
        [
            nix,
            "--extra-experimental-features",
            "nix-command flakes",
            "flake",
            "metadata",
            "--offline",
            "--no-write-lock-file",
            "--json",
            f"path:{flake}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@needs_nix
def test_flake_lock_matches_flake_nix_and_pins_the_cited_revision(tmp_path: Path) -> None:
    flake = copy_flake(tmp_path / "flake")
    res = flake_metadata(flake)
    if res.returncode != 0 and ("permission denied" in res.stderr.lower() or "cannot connect" in res.stderr.lower()):
        pytest.skip(f"nix cannot use a store here: {res.stderr.strip().splitlines()[-1]}")
    assert res.returncode == 0, res.stderr
    nodes = json.loads(res.stdout)["locks"]["nodes"]
    assert sorted(nodes["root"]["inputs"]) == sorted(INPUTS)
    for name, rev in INPUTS.items():
        assert nodes[name]["locked"]["rev"] == rev
        assert nodes[name]["locked"]["narHash"].startswith("sha256-")
    assert nodes["nixpkgs"]["original"] == {"owner": "NixOS", "ref": "nixos-26.05", "repo": "nixpkgs", "type": "github"}
    assert nodes["nixpkgs-cuda-legacy"]["original"]["ref"] == "nixos-25.05"
    # the narHash of the 25.05 pin equals the sha256 of an independent fetchTarball of that revision, converted
    # (`nix hash to-sri --type sha256 0v6bd1xk8a2aal83karlvc853x44dg1n4nk08jg3dajqyy0s98np`, see nixpkgs.toml)
    assert nodes["nixpkgs-cuda-legacy"]["locked"]["narHash"] == "sha256-16KkgfdYqjaeRGBaYsNrhPRRENs0qzkQVUooNHtoy2w="


@needs_nix
def test_legacy_pin_narhash_matches_an_independent_tarball_hash() -> None:
    nix = shutil.which("nix")
    assert nix
    res = subprocess.run(
        [
            nix,
            "--extra-experimental-features",
            "nix-command",
            "hash",
            "to-sri",
            "--type",
            "sha256",
            "0v6bd1xk8a2aal83karlvc853x44dg1n4nk08jg3dajqyy0s98np",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    lock = json.loads((REPO / "flake.lock").read_text(encoding="utf-8"))
    assert res.stdout.strip() == lock["nodes"]["nixpkgs-cuda-legacy"]["locked"]["narHash"]


@needs_nix
def test_flake_metadata_notices_a_lock_that_does_not_match(tmp_path: Path) -> None:
    flake = copy_flake(tmp_path / "flake")
    text = (flake / "flake.nix").read_text(encoding="utf-8").replace('nixos-26.05";', 'nixos-25.11";')
    (flake / "flake.nix").write_text(text, encoding="utf-8")
    res = flake_metadata(flake)
    if "permission denied" in res.stderr.lower():
        pytest.skip("nix cannot use a store here")
    # the lock no longer matches: nix must re-lock nixos-25.11, which it cannot do offline
    assert res.returncode != 0


# ---- the pure helpers (nix/lib.nix) ----


@needs_nix
def test_lib_python_attr_and_requirement_names() -> None:
    got = nix_value("""let L = import ./nix/lib.nix; in {
      py = map L.pythonAttr [ "3.12" "3.12.1" "3.13" ];
      req = map L.requirementName [ "packaging>=24" "tomlkit>=0.13" "Foo_Bar[x]; python_version<'3.13'" "a.b==1" ];
    }""")
    assert got == {"py": ["python312", "python312", "python313"], "req": ["packaging", "tomlkit", "foo-bar", "a-b"]}


@needs_nix
def test_lib_shell_specs_read_the_toolchain_file() -> None:
    got = nix_value("(import ./nix/lib.nix).shellSpecs ((import ./nix/lib.nix).readToolchain ./nix/toolchain.json)")
    data = json.loads((REPO / "nix/toolchain.json").read_text(encoding="utf-8"))
    assert isinstance(got, dict)
    assert set(got) == {"default", *data["members"]}
    assert got["default"]["member"] is None and got["default"]["venv"] == ".venv"
    for name, entry in data["members"].items():
        assert got[name] == {
            "name": name,
            "member": name,
            "venv": f".venv-{name}",
            "cuda": entry["cuda"],
            "nixAttr": entry["nix_attr"],
            "input": entry["input"],
            "missing": entry.get("missing"),
            "python": data["python"],
            "policy": data["driver_policy"],
        }


@needs_nix
@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ('(import ./nix/lib.nix).pythonAttr "three"', "not a version like 3.12"),
        ('(import ./nix/lib.nix).parseToolchain (builtins.toJSON { schema = "x"; })', "lockgen toolchain --write"),
        (
            '(import ./nix/lib.nix).cudaSet { nixpkgs.cudaPackages_13_0 = 1; } { name = "train"; '
            'nixAttr = "cudaPackages_13_3"; cuda = "13.3"; input = "nixpkgs"; missing = null; }',
            "the pinned nixpkgs input nixpkgs has no cudaPackages_13_3 (CUDA 13.3, shell train)",
        ),
        (
            '(import ./nix/lib.nix).cudaSet { nixpkgs.cudaPackages_13_4 = 1; } { name = "train"; '
            'nixAttr = "cudaPackages_13_4"; cuda = "13.4"; input = null; missing = "ADD AN INPUT"; }',
            "gpu-workspace flake: ADD AN INPUT",
        ),
        (
            '(import ./nix/lib.nix).cudaSet { nixpkgs = { }; } { name = "train"; '
            'nixAttr = "cudaPackages_12_1"; cuda = "12.1"; input = "nixpkgs-old"; missing = null; }',
            "from the input nixpkgs-old, which flake.nix does not declare",
        ),
        ('(import ./nix/lib.nix).substitute "a @x@ @y@" { x = "1"; }', "@y@"),
    ],
)
def test_lib_refuses_with_a_clear_message(expr: str, message: str) -> None:
    res = nix_eval(expr, REPO)
    assert res.returncode != 0 and message in res.stderr


# ---- the whole flake against a stub nixpkgs ----


@needs_nix
def test_flake_outputs_with_a_stub_nixpkgs(tmp_path: Path) -> None:
    data = json.loads((REPO / "nix/toolchain.json").read_text(encoding="utf-8"))
    got = evaluate(REPO, stub_dir(tmp_path))
    assert got["systems"] == ["aarch64-linux", "x86_64-linux"]
    assert set(got["shells"]) == {"default", *data["members"]} == set(got["aarch64"])
    for name, shell in got["aarch64"].items():  # every member and system evaluates, with the same toolkit
        assert shell["packages"] == got["shells"][name]["packages"]
    assert got["checks"] == ["lockgen-tests", "toolchain"] and got["formatter"] == "nixfmt"
    images = {f"{m}-{kind}" for m in data["members"] for kind in ("env", "image")}
    assert (
        got["packages"]["x86_64-linux"] == got["packages"]["aarch64-linux"] == sorted({"default", "lockgen", *images})
    )
    assert set(got["inputs"]) == set(INPUTS)
    assert got["nixConfig"]["extra-substituters"] == ["https://cache.nixos-cuda.org", "https://cache.flox.dev"]
    assert (
        "cache.nixos-cuda.org:74DUi4Ye579gUqzH4ziL9IyiJBlDpMRn9MBN8oNan9M="
        in got["nixConfig"]["extra-trusted-public-keys"]
    )
    names = lockgen_requirement_names()
    assert got["lockgen"] == {"name": "lockgen-0.1.0", "buildSystem": names["build"], "deps": names["deps"]}
    assert "packaging" in names["deps"] and names["build"] == ["hatchling"]
    for name, spec in [("default", data["default"]), *data["members"].items()]:
        shell = got["shells"][name]
        env = shell["env"]
        assert f"cuda-merged-{spec['cuda']}" in shell["packages"]
        assert shell["mkShellFrom"] == spec["input"]  # the shell's stdenv comes from the toolkit's nixpkgs
        assert shell["stdenv"] == f"cuda-backend-stdenv-{spec['cuda']}"  # the host compiler nvcc accepts
        assert env["CUDA_HOME"].endswith(f"-cuda-merged-{spec['cuda']}")
        assert env["NVCC_CCBIN"].endswith(f"-gcc-for-cuda-{spec['cuda']}/bin/c++")
        assert env["UV_PYTHON"] == "/nix/store/00000000000000000000000000000000-python3-3.12/bin/python3.12"
        assert env["UV_PYTHON_DOWNLOADS"] == "never"
        assert env["UV_PROJECT_ENVIRONMENT"] == (".venv" if name == "default" else f".venv-{name}")
        assert env["UV"].endswith("-uv/bin/uv")
        assert f"toolchain guard --member {name} --cuda {spec['cuda']} --policy toolkit" in shell["hook"]
        assert "unset PYTHONPATH" in shell["hook"] and "-gcc-lib/lib:" in shell["hook"]
        if name == "default":
            assert shell["uvWrapper"] is None and shell["packages"][0] == "python3-3.12"
        else:
            assert shell["packages"][0] == "wrapper-uv"  # before the real uv on PATH
            assert f"member={name}\n" in shell["uvWrapper"]
            assert "real=/nix/store/00000000000000000000000000000000-uv/bin/uv\n" in shell["uvWrapper"]


def entry(cuda: str, input_: str | None, missing: str | None = None) -> dict:
    out = {"cuda": cuda, "nix_attr": "cudaPackages_" + cuda.replace(".", "_"), "input": input_}
    return out | ({"missing": missing} if missing else {})


@needs_nix
def test_flake_follows_toolchain_json_without_nix_edits(tmp_path: Path) -> None:
    toolchain = json.loads((REPO / "nix/toolchain.json").read_text(encoding="utf-8"))
    toolchain["members"] = {
        "train": entry("12.8", "nixpkgs"),
        "serve": entry("13.0", "nixpkgs"),
        "eval": entry("12.8", "nixpkgs"),
    }
    toolchain["default"] = entry("13.0", "nixpkgs")
    flake = copy_flake(tmp_path / "flake", toolchain)
    got = evaluate(flake, stub_dir(tmp_path))
    assert set(got["shells"]) == {"default", "train", "serve", "eval"}
    assert "cuda-merged-12.8" in got["shells"]["train"]["packages"]
    assert "cuda-merged-13.0" in got["shells"]["serve"]["packages"]
    assert got["shells"]["eval"]["env"]["UV_PROJECT_ENVIRONMENT"] == ".venv-eval"


@needs_nix
@pytest.mark.parametrize(
    ("cuda", "input_"),
    [("12.1", "nixpkgs-cuda-legacy"), ("11.8", "nixpkgs-cuda-legacy"), ("13.3", "nixpkgs-cuda-next")],
)
def test_an_old_or_new_cuda_comes_from_the_input_that_has_it(tmp_path: Path, cuda: str, input_: str) -> None:
    """A driver-535 fleet locks CUDA 12.1: its shell takes cudaPackages_12_1 (and its stdenv) from nixos-25.05."""
    toolchain = json.loads((REPO / "nix/toolchain.json").read_text(encoding="utf-8"))
    toolchain["members"]["train"] = entry(cuda, input_)
    flake = copy_flake(tmp_path / "flake", toolchain)
    got = evaluate(flake, stub_dir(tmp_path))
    for shells in (got["shells"], got["aarch64"]):
        train = shells["train"]
        assert f"cuda-merged-{cuda}" in train["packages"] and train["mkShellFrom"] == input_
        assert train["stdenv"] == f"cuda-backend-stdenv-{cuda}"
        assert train["env"]["CUDA_HOME"].endswith(f"-cuda-merged-{cuda}")
        assert "python3-3.12" in train["packages"]  # Python and uv still from the main nixpkgs
    # the main input's stub really lacks it: the same file pointing at `nixpkgs` stops with lockgen's words
    toolchain["members"]["train"] = entry(cuda, "nixpkgs")
    flake = copy_flake(tmp_path / "flake2", toolchain)
    res = nix_eval(SHOW.format(flake=flake, stubs=stub_dir(tmp_path)), flake)
    assert res.returncode != 0
    assert f"the pinned nixpkgs input nixpkgs has no cudaPackages_{cuda.replace('.', '_')}" in res.stderr


@needs_nix
def test_flake_without_cuda_members_gives_plain_shells(tmp_path: Path) -> None:
    toolchain = json.loads((REPO / "nix/toolchain.json").read_text(encoding="utf-8"))
    toolchain["members"], toolchain["default"] = {}, None
    got = evaluate(copy_flake(tmp_path / "flake", toolchain), stub_dir(tmp_path))
    shell = got["shells"]["default"]
    assert set(got["shells"]) == {"default"}
    assert shell["stdenv"] == "stdenv" and "CUDA_HOME" not in shell["env"] and "NVCC_CCBIN" not in shell["env"]
    assert "toolchain guard" in shell["hook"]  # present in the script, behind `if [ -n "" ]`
    assert 'if [ -n "" ]; then' in shell["hook"]


@needs_nix
def test_a_cuda_no_pinned_input_has_stops_only_that_shell_with_lockgens_message(tmp_path: Path) -> None:
    """The toolchain file lockgen writes for CUDA 13.4 (no pinned input has it) makes `nix develop .#train` stop with
    lockgen's message, as a plain error (no attribute-missing trace); the other shells still evaluate."""
    from lockgen.plan.toolchain import load_nixpkgs_table, pinned_inputs, with_input

    lock = json.loads((REPO / "flake.lock").read_text(encoding="utf-8"))
    inputs = pinned_inputs(lock, load_nixpkgs_table())
    train = with_input({"cuda": "13.4", "nix_attr": "cudaPackages_13_4"}, "member train", inputs)
    assert train["input"] is None and "no pinned nixpkgs input has cudaPackages_13_4" in train["missing"]
    toolchain = json.loads((REPO / "nix/toolchain.json").read_text(encoding="utf-8"))
    toolchain["members"]["train"] = train
    flake = copy_flake(tmp_path / "flake", toolchain)
    stubs = stub_dir(tmp_path)
    shell = (
        "(import {flake}/flake.nix).outputs {{ self = {{ outPath = {flake}; }}; "
        + " ".join(f"{n} = {{{{ outPath = {{stubs}}/{n}; }}}};" for n in INPUTS)
        + " }}"
    )
    res = nix_eval(("(" + shell + ").devShells.x86_64-linux.train.name").format(flake=flake, stubs=stubs), flake)
    assert res.returncode != 0
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert lines[-1].strip() == "error: gpu-workspace flake: " + train["missing"]
    assert "attribute" not in res.stderr and "stack trace" not in res.stderr
    ok = nix_eval(("(" + shell + ").devShells.x86_64-linux.serve.name").format(flake=flake, stubs=stubs), flake)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == "gpu-workspace-serve"


def flake_show(flake: Path, stubs: Path) -> subprocess.CompletedProcess[str]:
    """`nix flake show` of `flake` with every nixpkgs input replaced by its stub (no network, lock not written)."""
    nix = shutil.which("nix")
    assert nix
    args = [nix, "--extra-experimental-features", "nix-command flakes", "flake", "show", "--offline"]
    args.append("--no-write-lock-file")
    for name in INPUTS:
        (stubs / name / "flake.nix").write_text("{ outputs = _: { }; }\n", encoding="utf-8")
        args += ["--override-input", name, f"path:{stubs / name}"]
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([*args, f"path:{flake}"], capture_output=True, text=True, timeout=300, check=False, env=env)


@needs_nix
def test_nix_flake_show_lists_every_shell_and_image_for_both_systems(tmp_path: Path) -> None:
    res = flake_show(copy_flake(tmp_path / "flake"), stub_dir(tmp_path))
    if res.returncode != 0 and "permission denied" in res.stderr.lower():
        pytest.skip("nix cannot use a store here")
    assert res.returncode == 0, res.stderr
    out = re.sub(r"\x1b\[[0-9;]*m", "", res.stdout)
    members = json.loads((REPO / "nix/toolchain.json").read_text(encoding="utf-8"))["members"]
    for system in ("x86_64-linux", "aarch64-linux"):
        assert f"evaluating 'devShells.{system}.default'" in res.stderr
        for m in members:
            assert f"evaluating 'devShells.{system}.{m}'" in res.stderr
            assert f"evaluating 'packages.{system}.{m}-image'" in res.stderr
    for m in members:
        assert f"{m}: development environment 'gpu-workspace-{m}'" in out
        assert f"{m}-image: package 'docker-image-gpu-workspace-{m}.tar.gz'" in out


@needs_nix
def test_nix_flake_show_stops_on_a_cuda_no_input_has_with_lockgens_message(tmp_path: Path) -> None:
    toolchain = json.loads((REPO / "nix/toolchain.json").read_text(encoding="utf-8"))
    toolchain["members"]["train"] = entry("13.4", None, "no pinned nixpkgs input has cudaPackages_13_4 (TEST)")
    res = flake_show(copy_flake(tmp_path / "flake", toolchain), stub_dir(tmp_path))
    if "permission denied" in res.stderr.lower():
        pytest.skip("nix cannot use a store here")
    assert res.returncode != 0
    assert "error: gpu-workspace flake: no pinned nixpkgs input has cudaPackages_13_4 (TEST)" in res.stderr


@needs_nix
def test_unfree_predicate_allows_only_the_cuda_toolkit() -> None:
    got = nix_value("""let L = import ./nix/lib.nix; eula = { free = false; shortName = "CUDA EULA"; };
    in map L.allowUnfreeCuda [
      { pname = "cuda_nvcc"; meta.license = eula; }
      { pname = "libcublas"; meta.license = [ eula ]; }
      { name = "cuda-merged-12.8"; meta.license = eula; }
      { pname = "cudnn"; meta.license = { free = false; shortName = "cuDNN EULA"; }; }
      { pname = "nvidia-x11"; meta.license = { free = false; shortName = "unfree"; }; }
      { pname = "steam"; meta.license = { free = false; shortName = "unfree"; }; }
      { pname = "cuda_nvcc"; meta.license = { free = false; shortName = "unfree"; }; }
    ]""")
    assert got == [True, True, True, False, False, False, False]


# ---- the image: exactly the member's locked wheels, from uv.lock ----


@needs_nix
@pytest.mark.parametrize("system", ["x86_64-linux", "aarch64-linux"])
def test_member_env_installs_the_locked_wheels_of_its_platform(tmp_path: Path, system: str) -> None:
    stubs = stub_dir(tmp_path)
    expr = """let out = (import {flake}/flake.nix).outputs {{ self = {{ outPath = {flake}; }}; {inputs} }};
      env = out.packages.{system}.train-env; image = out.packages.{system}.train-image;
    in {{ wheels = map (w: {{ inherit (w) name url sha256; }}) env.env.passthru.wheelFiles;
         projects = map (p: p.script) env.env.passthru.projectWheels; script = env.script;
         image = {{ inherit (image) name config contents; }}; }}""".format(
        flake=REPO, system=system, inputs=" ".join(f"{n} = {{ outPath = {stubs}/{n}; }};" for n in INPUTS)
    )
    got = nix_value(expr)
    assert isinstance(got, dict)
    lock = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    by_url = {w["url"]: (p["name"], w["hash"]) for p in lock["package"] for w in p.get("wheels", [])}
    machine = system.split("-")[0]
    names = set()
    for w in got["wheels"]:
        name, digest = by_url[w["url"]]  # every wheel is one of uv.lock's, with uv.lock's hash
        assert digest == "sha256:" + w["sha256"]
        assert w["name"] in got["script"]
        assert w["name"].endswith("-any.whl") or w["name"].endswith(f"_{machine}.whl"), w["name"]
        names.add(name)
    assert len(names) == len(got["wheels"])  # one wheel per package
    assert {"torch", "transformers", "unsloth", "trl", "peft"} <= names
    assert ("xformers" in names) == (machine == "x86_64")  # unsloth needs xformers on x86_64 only (README)
    torch = next(w for w in got["wheels"] if w["name"].startswith("torch-"))
    assert "-cp312-" in torch["name"]
    (project,) = got["projects"]
    assert "/workspaces/train project" in project and "--no-build-isolation --offline" in project
    assert "uv pip install --offline --no-index --no-deps" in got["script"]
    assert got["image"]["name"] == "docker-image-gpu-workspace-train.tar.gz"
    assert got["image"]["contents"][0] == "gpu-workspace-train-env"
    assert any(e.startswith("LD_LIBRARY_PATH=/usr/lib64:") for e in got["image"]["config"]["Env"])


# ---- the generated shell hook, run for real ----


def _script(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)
    return path


def _elf(path: Path) -> None:
    machine = {"x86_64": 62, "aarch64": 183}[os.uname().machine]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + (3).to_bytes(2, "little") + machine.to_bytes(2, "little") + bytes(44)
    )


@needs_nix
@pytest.mark.skipif(os.uname().machine not in ("x86_64", "aarch64"), reason="x86_64 or aarch64 only")
def test_generated_hook_sets_the_driver_path_and_runs_the_guard(tmp_path: Path) -> None:
    py_out = tmp_path / "python"
    (py_out / "bin").mkdir(parents=True)
    os.symlink(sys.executable, py_out / "bin" / "python3")
    lg_out = tmp_path / "lockgen"
    _script(lg_out / "bin" / "lockgen", f'#!/bin/sh\necho "$@" > {tmp_path}/guard-args\nexit 1\n')
    got = evaluate(REPO, stub_dir(tmp_path, str(py_out), str(lg_out)))
    text = got["shells"]["train"]["hook"]
    # --readonly-mode computes the store path of nix/driver_libs.py without copying it: run the repository's copy
    store_script = re.search(r"/nix/store/[a-z0-9]{32}-driver_libs\.py", text)
    assert store_script, text
    hook = tmp_path / "hook.sh"
    hook.write_text(text.replace(store_script.group(0), str(REPO / "nix/driver_libs.py")), encoding="utf-8")
    drv = tmp_path / "host-driver"
    _elf(drv / "libcuda.so.1")
    _elf(drv / "libstdc++.so.6")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PYTHONPATH": "/leak",
        "LD_LIBRARY_PATH": "/host/ld",
        "UV_PROJECT_ENVIRONMENT": ".venv-train",
        "GPU_WORKSPACE_DRIVER_DIR": str(drv),
    }
    show = 'echo "LD=$LD_LIBRARY_PATH"; echo "TRITON=${TRITON_LIBCUDA_PATH-unset}"; echo "PYP=${PYTHONPATH-unset}"'
    res = subprocess.run(
        ["bash", "-c", f"set -u; source {hook}; {show}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    lines = dict(line.split("=", 1) for line in res.stdout.splitlines())
    first, runtime, host = lines["LD"].split(":", 2)
    assert Path(first).parent == tmp_path / "cache" / "gpu-workspace" / "driver-libs"
    assert os.listdir(first) == ["libcuda.so.1"]  # the driver only, not the directory's libstdc++
    assert runtime.endswith("-gcc-lib/lib") and host == "/nix/store/00000000000000000000000000000000-zlib/lib:/host/ld"
    assert lines["TRITON"] == first and lines["PYP"] == "unset"
    data = json.loads((REPO / "nix/toolchain.json").read_text(encoding="utf-8"))
    assert (tmp_path / "guard-args").read_text().split() == [
        "toolchain",
        "guard",
        "--member",
        "train",
        "--cuda",
        data["members"]["train"]["cuda"],
        "--policy",
        data["driver_policy"],
    ]
    assert "gpu-workspace train shell" in res.stderr and ".venv-train" in res.stderr
    # without a driver: no driver directory, the runtime libraries still come first
    env.pop("GPU_WORKSPACE_DRIVER_DIR")
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache2")
    res = subprocess.run(
        ["bash", "-c", f"source {hook}; {show}"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert res.returncode == 0, res.stderr
    lines = dict(line.split("=", 1) for line in res.stdout.splitlines())
    if lines["TRITON"] == "unset":  # this host has no NVIDIA driver (the usual CI case)
        assert lines["LD"].startswith("/nix/store/00000000000000000000000000000000-gcc-lib/lib:")


# ---- the member uv wrapper (nix/uv-member.sh) ----


@pytest.fixture
def uv_wrapper(tmp_path: Path) -> Path:
    real = _script(tmp_path / "real-uv", '#!/bin/sh\nprintf "%s\\n" "$@"\n')
    text = (REPO / "nix/uv-member.sh").read_text(encoding="utf-8")
    text = text.replace("@realUv@", str(real)).replace("@member@", "train")
    return _script(tmp_path / "uv", "#!/usr/bin/env bash\n" + text)


@pytest.mark.parametrize(
    ("args", "want"),
    [
        ("sync", "sync --package train"),
        ("sync --frozen", "sync --package train --frozen"),
        ("run pytest -q", "run --package train pytest -q"),
        ("-v sync", "-v sync --package train"),
        ("--cache-dir /c --offline sync", "--cache-dir /c --offline sync --package train"),
        ("sync --package serve", "sync --package serve"),
        ("sync --package=serve", "sync --package=serve"),
        ("sync --all-packages", "sync --all-packages"),
        ("run --script x.py", "run --script x.py"),
        ("--directory /w sync", "--directory /w sync"),
        ("run -- python --package", "run --package train -- python --package"),
        ("lock", "lock"),
        ("pip list", "pip list"),
        ("", ""),
    ],
)
def test_uv_wrapper_adds_the_member(uv_wrapper: Path, args: str, want: str) -> None:
    res = subprocess.run([str(uv_wrapper), *args.split()], capture_output=True, text=True, timeout=30, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == want.split()


def test_uv_wrapper_can_be_switched_off(uv_wrapper: Path) -> None:
    res = subprocess.run(
        [str(uv_wrapper), "sync"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "GPU_WORKSPACE_UV_PLAIN": "1"},
    )
    assert res.stdout.split() == ["sync"]

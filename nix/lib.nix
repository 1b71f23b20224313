# Pure helpers of flake.nix. They need no nixpkgs (only builtins), so the tests evaluate them with a bare
# `nix-instantiate --eval` and a stub package set. All CUDA knowledge stays in lockgen: this file only reads
# nix/toolchain.json, which `lockgen toolchain --write` derives from uv.lock.
let
  fail = msg: throw "gpu-workspace flake: ${msg}";

  upper = [ "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O" "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" ];
  lower = [ "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" ];
  toLower = builtins.replaceStrings upper lower;
in
rec {
  inherit fail;
  schema = "lockgen-toolchain/2";

  # The parsed nix/toolchain.json (its text), checked for the fields the shells read.
  parseToolchain =
    text:
    let
      t = builtins.fromJSON text;
      fix = "run `lockgen toolchain --write`";
    in
    if !(builtins.isAttrs t) || (t.schema or null) != schema then
      fail "nix/toolchain.json is not a ${schema} file; ${fix}"
    else if !(builtins.isString (t.python or null)) then
      fail "nix/toolchain.json has no \"python\"; ${fix}"
    else if !(builtins.isAttrs (t.members or null)) then
      fail "nix/toolchain.json has no \"members\"; ${fix}"
    else
      t;

  readToolchain = path: parseToolchain (builtins.readFile path);

  # "3.12" -> "python312" (the nixpkgs attribute of that interpreter).
  pythonAttr =
    version:
    let
      m = builtins.match "([0-9]+)\\.([0-9]+)(\\..*)?" version;
    in
    if m == null then
      fail "nix/toolchain.json: python ${builtins.toJSON version} is not a version like 3.12"
    else
      "python${builtins.elemAt m 0}${builtins.elemAt m 1}";

  # One spec per dev shell: `default` (the workspace root project, venv .venv, the newest member CUDA) and one per
  # member of nix/toolchain.json (venv .venv-<member>, that member's CUDA).
  shellSpecs =
    toolchain:
    let
      spec = name: member: entry: venv: {
        inherit name member venv;
        cuda = if entry == null then null else entry.cuda;
        nixAttr = if entry == null then null else entry.nix_attr;
        # the flake input (a nixpkgs) the set comes from; null with `missing` when no pinned input has it
        input = if entry == null then null else entry.input or null;
        missing = if entry == null then null else entry.missing or null;
        python = toolchain.python;
        policy = toolchain.driver_policy or "toolkit";
      };
    in
    {
      default = spec "default" null (toolchain.default or null) ".venv";
    }
    // builtins.mapAttrs (name: entry: spec name name entry ".venv-${name}") toolchain.members;

  # Where a shell's CUDA set comes from: { pkgs; set; } from the package sets of the flake's nixpkgs inputs
  # (`pkgsByInput`: input name -> imported nixpkgs); null for a shell without CUDA. A set no pinned input has stops
  # evaluation with lockgen's message (nix/toolchain.json "missing"), never with an attribute-missing trace.
  cudaSource =
    pkgsByInput: spec:
    if spec.nixAttr == null then
      null
    else if spec.input == null then
      fail (
        if spec.missing != null then
          spec.missing
        else
          "nix/toolchain.json gives shell ${spec.name} no input for ${spec.nixAttr}; run `lockgen toolchain --write`"
      )
    else if !(builtins.hasAttr spec.input pkgsByInput) then
      fail (
        "nix/toolchain.json takes ${spec.nixAttr} (shell ${spec.name}) from the input ${spec.input}, which "
        + "flake.nix does not declare: add `inputs.${spec.input}.url` to flake.nix (and `nix flake lock`), "
        + "or run `lockgen toolchain --write` after changing the inputs"
      )
    else if !(builtins.hasAttr spec.nixAttr pkgsByInput.${spec.input}) then
      fail (
        "the pinned nixpkgs input ${spec.input} has no ${spec.nixAttr} (CUDA ${spec.cuda}, shell ${spec.name}). "
        + "Move that pin to a revision that has it (and add it to lockgen's data/nixpkgs.toml), "
        + "or re-lock to a CUDA the pins have; `lockgen check` reports this too"
      )
    else
      {
        pkgs = pkgsByInput.${spec.input};
        set = pkgsByInput.${spec.input}.${spec.nixAttr};
      };

  # The CUDA package set of a shell (see cudaSource); null for a shell without CUDA.
  cudaSet =
    pkgsByInput: spec:
    let
      src = cudaSource pkgsByInput spec;
    in
    if src == null then null else src.set;

  # nixpkgs `config.allowUnfreePredicate`: only the NVIDIA CUDA toolkit's redistributables the shells use
  # (cuda_nvcc, cuda_cudart, libcublas, libnpp, ...; the merged `cudatoolkit`), and only under NVIDIA's CUDA EULA.
  # Anything else unfree (cuDNN, TensorRT, drivers, other vendors) stays refused. nixpkgs' manual shows the same
  # license-based predicate (doc/languages-frameworks/cuda.section.md, "Configuring Nixpkgs for CUDA").
  cudaUnfreePrefixes = [
    "cuda_"
    "cuda-"
    "cudatoolkit"
    "libcu"
    "libnv"
    "libnpp"
  ];
  cudaLicenses = [ "CUDA EULA" ];
  allowUnfreeCuda =
    pkg:
    let
      name = pkg.pname or (builtins.parseDrvName (pkg.name or "")).name;
      license = pkg.meta.license or [ ];
      licenses = if builtins.isList license then license else [ license ];
      hasPrefix = p: builtins.substring 0 (builtins.stringLength p) name == p;
    in
    builtins.any hasPrefix cudaUnfreePrefixes
    && builtins.all (l: (l.free or true) || builtins.elem (l.shortName or "") cudaLicenses) licenses;

  # A PEP 508 requirement ("packaging>=24", "Foo_Bar[x]; python_version<'3.13'") -> nixpkgs Python attribute name.
  requirementName =
    req:
    let
      m = builtins.match "[[:space:]]*([A-Za-z0-9][A-Za-z0-9._-]*).*" req;
    in
    if m == null then
      fail "cannot read a package name from the requirement ${builtins.toJSON req}"
    else
      toLower (builtins.replaceStrings [ "_" "." ] [ "-" "-" ] (builtins.head m));

  # "12" -> 12
  toInt = text: builtins.fromJSON text;

  # uv.lock's "sha256:<hex>" -> "<hex>" (what fetchurl's sha256 takes); refuse any other algorithm
  sha256Hex =
    hash:
    let
      m = builtins.match "sha256:([0-9a-f]{64})" hash;
    in
    if m == null then fail "uv.lock hash ${builtins.toJSON hash} is not sha256:<hex>" else builtins.head m;

  # Replace @name@ placeholders in a template; refuse to leave one unreplaced.
  substitute =
    template: vars:
    let
      names = builtins.attrNames vars;
      out = builtins.replaceStrings (map (n: "@${n}@") names) (map (n: toString vars.${n}) names) template;
      left = builtins.match ".*(@[A-Za-z]+@).*" out;
    in
    if left != null then fail "template placeholder ${builtins.head left} was not substituted" else out;

  # The environment of a shell. `python`, `uv`, `toolkit` and `hostCc` are store paths (or stubs with outPath).
  shellEnv =
    {
      spec,
      python,
      uv,
      toolkit ? null,
      hostCc ? null,
    }:
    {
      UV_PYTHON = "${python}/bin/python${spec.python}";
      UV_PYTHON_DOWNLOADS = "never";
      # relative: uv resolves it against the workspace root, so train and serve keep their own venvs
      UV_PROJECT_ENVIRONMENT = spec.venv;
      # lockgen runs the real uv, never the member wrapper
      UV = "${uv}/bin/uv";
      GPU_WORKSPACE_MEMBER = if spec.member == null then "" else spec.member;
      GPU_WORKSPACE_CUDA = if spec.cuda == null then "" else spec.cuda;
    }
    // (
      if toolkit == null then
        { }
      else
        {
          CUDA_HOME = "${toolkit}";
          CUDA_PATH = "${toolkit}";
        }
    )
    // (
      if hostCc == null then
        { }
      else
        {
          # the host compiler this nvcc accepts (nixpkgs' cudaPackages.backendStdenv picks it per CUDA release)
          NVCC_CCBIN = "${hostCc}/bin/c++";
          CUDAHOSTCXX = "${hostCc}/bin/c++";
        }
    );
}

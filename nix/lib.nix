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
  schema = "lockgen-toolchain/1";

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
        python = toolchain.python;
        policy = toolchain.driver_policy or "toolkit";
      };
    in
    {
      default = spec "default" null (toolchain.default or null) ".venv";
    }
    // builtins.mapAttrs (name: entry: spec name name entry ".venv-${name}") toolchain.members;

  # The CUDA package set a shell needs, from a nixpkgs package set; null for a shell without CUDA.
  cudaSet =
    pkgs: spec:
    if spec.nixAttr == null then
      null
    else if !(builtins.hasAttr spec.nixAttr pkgs) then
      fail (
        "the pinned nixpkgs has no ${spec.nixAttr} (CUDA ${spec.cuda}, shell ${spec.name}). "
        + "Move the nixpkgs pin to a revision that has it (and add it to lockgen's data/nixpkgs.toml), "
        + "or re-lock to a CUDA the pin has; `lockgen check` reports this too"
      )
    else
      pkgs.${spec.nixAttr};

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

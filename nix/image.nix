# A member's runtime environment and OCI image, built purely from uv.lock:
#   env   - a venv with exactly the wheels `uv sync --frozen --package <member> --no-editable` installs on this system.
#           nix/toolchain.json ("images", written by lockgen from uv.lock) names them as `name==version#i`, the i-th
#           wheel of that package in uv.lock; each is a fixed-output `fetchurl` with uv.lock's URL and sha256, so the
#           derivation names every input and needs no resolver and no network beyond those fetches. uv installs them
#           at build time (`uv pip install --offline --no-index --no-deps`); workspace projects (`name@path`) are built
#           from their source with their declared build backend taken from nixpkgs.
#   image - `dockerTools.buildLayeredImage` of that venv (a docker-archive tarball: `docker load < result`,
#           `podman load < result`), for hosts with the NVIDIA Container Toolkit (the driver comes from the host).
# Why not uv2nix: it would add three inputs (pyproject-nix, uv2nix, build-system-pkgs) and per-package overrides for
# the CUDA wheels' libraries, while lockgen already projects the lock per member and platform (the same graph walk
# uv does); this file reuses that and keeps the lock the single source of truth.
{
  pkgs, # the main nixpkgs
  python, # its interpreter for nix/toolchain.json's Python (python312)
  member, # "train"
  system, # "x86_64-linux"
  wheels, # nix/toolchain.json images.<member>.<system>
  uvLock, # builtins.fromTOML of uv.lock
  root, # the workspace root (a path), for workspace projects built from source
}:
let
  L = import ./lib.nix;
  packages = builtins.listToAttrs (
    map (p: {
      name = "${p.name}==${p.version or ""}";
      value = p;
    }) uvLock.package
  );

  fetchWheel =
    entry:
    let
      m = builtins.match "([^=]+)==(.+)#([0-9]+|none)" entry;
      key = "${builtins.elemAt m 0}==${builtins.elemAt m 1}";
      index = builtins.elemAt m 2;
      pkg = packages.${key} or (L.fail "image ${member}: ${key} is not in uv.lock; run `lockgen toolchain --write`");
      wheel = builtins.elemAt pkg.wheels (L.toInt index);
      file = builtins.replaceStrings [ "%2B" "%2b" ] [ "+" "+" ] (baseNameOf wheel.url);
    in
    if index == "none" then
      L.fail "image ${member} (${system}): uv.lock has no wheel of ${key} for this system (building sdists is not supported)"
    else if !(pkg ? wheels) || builtins.length pkg.wheels <= L.toInt index then
      L.fail "image ${member}: uv.lock has no wheel ${index} of ${key}; run `lockgen toolchain --write`"
    else
      pkgs.fetchurl {
        url = wheel.url;
        name = file;
        sha256 = L.sha256Hex wheel.hash;
      };

  # a workspace project, built to a wheel by its own build backend (from nixpkgs, like nix/lockgen.nix does)
  buildProject =
    entry:
    let
      m = builtins.match "([^@]+)@(.+)" entry;
      name = builtins.elemAt m 0;
      src = root + "/${builtins.elemAt m 1}";
      project = builtins.fromTOML (builtins.readFile (src + "/pyproject.toml"));
      buildPython = python.withPackages (
        ps: map (r: ps.${L.requirementName r}) (project.build-system.requires or [ "setuptools" ])
      );
    in
    pkgs.runCommand "${name}-wheel" { nativeBuildInputs = [ pkgs.uv ]; } ''
      export HOME=$TMPDIR UV_CACHE_DIR=$TMPDIR/uv-cache UV_NO_CONFIG=1
      cp -r ${src} project && chmod -R u+w project
      uv build --wheel --no-build-isolation --offline --python ${buildPython}/bin/python --out-dir $out project
    '';

  isProject = entry: builtins.match "[^@=]+@.+" entry != null;
  wheelFiles = map fetchWheel (builtins.filter (e: !(isProject e)) wheels);
  projectWheels = map buildProject (builtins.filter isProject wheels);

  env = pkgs.runCommand "gpu-workspace-${member}-env" {
    nativeBuildInputs = [ pkgs.uv ];
    # what it installs, for `nix eval .#train-env.wheelFiles` and the tests
    passthru = { inherit wheelFiles projectWheels; };
  } ''
    export HOME=$TMPDIR UV_CACHE_DIR=$TMPDIR/uv-cache UV_NO_CONFIG=1
    ${python}/bin/python3 -m venv --without-pip $out
    uv pip install --offline --no-index --no-deps --link-mode copy --python $out/bin/python \
      ${builtins.concatStringsSep " " (map toString wheelFiles)} \
      ${builtins.concatStringsSep " " (map (w: "${w}/*.whl") projectWheels)}
  '';

  # what manylinux wheels expect from the system besides the driver; the NVIDIA Container Toolkit mounts the
  # driver's libraries (libcuda.so.1, libnvidia-ml.so.1) into one of the usual directories listed first
  libraryPath = "/usr/lib64:/usr/lib/x86_64-linux-gnu:/usr/lib/aarch64-linux-gnu:${
    pkgs.lib.makeLibraryPath [
      pkgs.stdenv.cc.cc.lib
      pkgs.zlib
    ]
  }";

  image = pkgs.dockerTools.buildLayeredImage {
    name = "gpu-workspace-${member}";
    tag = "latest";
    contents = [
      env
      pkgs.bashInteractive
      pkgs.coreutils
      pkgs.cacert
    ];
    config = {
      Cmd = [ "${env}/bin/python" ];
      Env = [
        "PATH=${env}/bin:/bin"
        "LD_LIBRARY_PATH=${libraryPath}"
        "SSL_CERT_FILE=${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt"
        "NVIDIA_VISIBLE_DEVICES=all"
        "NVIDIA_DRIVER_CAPABILITIES=compute,utility"
      ];
    };
  };
in
{
  inherit env image wheelFiles projectWheels;
}

# One dev shell of the workspace: Python and uv from the main nixpkgs, lockgen, the CUDA toolkit of the shell's
# cudaPackages set (nix/toolchain.json names the set and the pinned nixpkgs input it comes from) with the host
# compiler that nvcc accepts, and the host driver hook.
{
  pkgs, # the main nixpkgs (input `nixpkgs`): Python, uv, zlib, the C++ runtime
  pkgsByInput, # every nixpkgs input of the flake, imported: input name -> package set
  spec, # from lib.shellSpecs
  lockgen, # the lockgen application (nix/lockgen.nix)
}:
let
  L = import ./lib.nix;
  python = pkgs.${L.pythonAttr spec.python};
  source = L.cudaSource pkgsByInput spec;
  hasCuda = source != null;
  cuda = if hasCuda then source.set else null;
  # the merged toolkit (bin/nvcc, include/, lib/): what CUDA_HOME and torch's cpp_extension expect
  toolkit = if hasCuda then cuda.cudatoolkit else null;
  # nixpkgs chooses, per CUDA release, a GCC that this nvcc supports
  hostStdenv = if hasCuda then cuda.backendStdenv else pkgs.stdenv;
  hostCc = if hasCuda then cuda.backendStdenv.cc else null;
  # the mkShell of the nixpkgs the toolkit comes from, so the shell's stdenv and the toolkit share one nixpkgs
  mkShell = (if hasCuda then source.pkgs else pkgs).mkShell.override { stdenv = hostStdenv; };

  # member shells: `uv sync` / `uv run` act on that member (nix/uv-member.sh)
  uvWrapper = pkgs.writeShellScriptBin "uv" (
    L.substitute (builtins.readFile ./uv-member.sh) {
      realUv = "${pkgs.uv}/bin/uv";
      member = spec.member;
    }
  );

  # what manylinux wheels expect from the system, besides the driver
  runtimeLibs = pkgs.lib.makeLibraryPath [
    pkgs.stdenv.cc.cc.lib
    pkgs.zlib
  ];

  hook = L.substitute (builtins.readFile ./shell-hook.sh) {
    shell = spec.name;
    python = "${python}/bin/python3";
    pythonVersion = spec.python;
    driverLibs = "${./driver_libs.py}";
    inherit runtimeLibs;
    lockgen = "${lockgen}/bin/lockgen";
    cuda = if hasCuda then spec.cuda else "";
    nixAttr = if hasCuda then spec.nixAttr else "";
    policy = spec.policy;
  };
in
mkShell (
  {
    name = "gpu-workspace-${spec.name}";
    # order matters: the member's uv wrapper must come before the real uv on PATH
    packages =
      (if spec.member == null then [ ] else [ uvWrapper ])
      ++ [
        python
        pkgs.uv
        lockgen
      ]
      ++ (if hasCuda then [ toolkit ] else [ ]);
    shellHook = hook;
  }
  // L.shellEnv {
    inherit spec python toolkit hostCc;
    uv = pkgs.uv;
  }
)

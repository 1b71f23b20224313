{
  description = "GPU workspace: per-member dev shells with the CUDA toolkit their uv.lock needs, uv and lockgen";

  # nixos-26.05; flake.lock pins revision 0d9e9b832d03ac387417e16ce1febf73b2e631e1 (2026-10-04), whose CUDA sets
  # lockgen knows (lockgen/src/lockgen/data/nixpkgs.toml). `lockgen check` fails when nix/toolchain.json names a
  # set the pinned revision lacks.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs =
    { self, nixpkgs }:
    let
      L = import ./nix/lib.nix;
      # written by `lockgen toolchain --write` from uv.lock: the CUDA set and Python per shell
      toolchain = L.readToolchain ./nix/toolchain.json;
      specs = L.shellSpecs toolchain;

      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems =
        f:
        builtins.listToAttrs (
          map (system: {
            name = system;
            value = f system;
          }) systems
        );

      pkgsBySystem = forAllSystems (
        system:
        import nixpkgs {
          inherit system;
          # the CUDA toolkit is unfree (NVIDIA EULAs); nothing else in these shells is
          config.allowUnfree = true;
        }
      );
      pythonOf = pkgs: pkgs.${L.pythonAttr toolchain.python};
      lockgenOf =
        pkgs:
        import ./nix/lockgen.nix {
          python = pythonOf pkgs;
          src = ./lockgen;
        };
    in
    {
      # nix develop (.#default), nix develop .#train, nix develop .#serve
      devShells = forAllSystems (
        system:
        let
          pkgs = pkgsBySystem.${system};
          lockgen = lockgenOf pkgs;
        in
        builtins.mapAttrs (_: spec: import ./nix/shell.nix { inherit pkgs spec lockgen; }) specs
      );

      packages = forAllSystems (
        system:
        let
          lockgen = lockgenOf pkgsBySystem.${system};
        in
        {
          inherit lockgen;
          default = lockgen;
        }
      );

      checks = forAllSystems (
        system:
        let
          pkgs = pkgsBySystem.${system};
          lockgen = lockgenOf pkgs;
          testPython = (pythonOf pkgs).withPackages (
            ps:
            [
              ps.pytest
              ps.hypothesis
            ]
            ++ lockgen.pythonDependencies
          );
        in
        {
          # lockgen's offline tests (no network, no real uv runs, no GPU; the Nix tests skip without nix)
          lockgen-tests =
            pkgs.runCommand "lockgen-tests"
              {
                nativeBuildInputs = [
                  testPython
                  pkgs.uv
                ];
              }
              ''
                cp -r ${self} src
                chmod -R u+w src
                cd src
                export HOME=$TMPDIR
                PYTHONPATH=$PWD/lockgen/src python -m pytest -q -p no:cacheprovider \
                  -m "not network and not uv and not gpu and not slow" tests
                touch $out
              '';
          # nix/toolchain.json agrees with uv.lock and with the pinned nixpkgs
          toolchain = pkgs.runCommand "toolchain-matches-lock" { nativeBuildInputs = [ lockgen ]; } ''
            lockgen -C ${self} toolchain | tee $out
          '';
        }
      );

      formatter = forAllSystems (system: pkgsBySystem.${system}.nixfmt);
    };
}

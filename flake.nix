{
  description = "GPU workspace: per-member dev shells with the CUDA toolkit their uv.lock needs, uv and lockgen";

  # CUDA binary caches (nixpkgs' own cache.nixos.org does not build unfree CUDA packages). Nix asks before it uses
  # a flake's nixConfig unless you pass --accept-flake-config or trust them in nix.conf (docs/nix.md).
  # - cache.nixos-cuda.org: the cache of the NixOS CUDA team's Hydra (https://hydra.nixos-cuda.org), which builds
  #   nixpkgs' release-cuda jobset for nixos-unstable-small and nixos-26.05-small; documented in
  #   github.com/nixos-cuda/infra README.md ("Substituter") and nixos-cuda/hydra-jobsets README.md, which call it a
  #   development cache and point to NVIDIA's licensed redistributors for production use. Key as published in
  #   public configurations using it (looked up 2026-11-29; not fetched from the cache here).
  # - cache.flox.dev: Flox's cache of unmodified nixpkgs CUDA builds, redistributed under its agreement with NVIDIA
  #   (announced with the Nix CUDA team, discourse.nixos.org/t/69189; flox.dev/docs/concepts/cuda-catalog-and-cache).
  nixConfig = {
    extra-substituters = [
      "https://cache.nixos-cuda.org"
      "https://cache.flox.dev"
    ];
    extra-trusted-public-keys = [
      "cache.nixos-cuda.org:74DUi4Ye579gUqzH4ziL9IyiJBlDpMRn9MBN8oNan9M="
      "flox-cache-public-1:7F4OyH7ZCnFhcze3fJdfyXYLQw/aV7GEed86nQ7IsOs="
    ];
  };

  # Several pinned nixpkgs, so that every CUDA a fleet's window can hold has a toolkit (lockgen's table
  # lockgen/src/lockgen/tables/data/nixpkgs.toml says which cudaPackages_X_Y sets each revision has, with sources):
  # - nixpkgs: nixos-26.05 (12.6, 12.8, 12.9, 13.0-13.2); Python, uv and everything else come from here.
  # - nixpkgs-cuda-legacy: nixos-25.05, the last release with CUDA 11.8 and 12.0-12.5 (removed from nixpkgs
  #   master on 2025-08-18 for 25.11, NixOS/nixpkgs#434827).
  # - nixpkgs-cuda-next: a nixpkgs-unstable revision of 2026-08 with cudaPackages_13_3, pinned by revision.
  # lockgen writes which input each member's set comes from into nix/toolchain.json (the main one first, then the
  # newest); a set no input has makes `nix develop .#<member>` stop with lockgen's message saying what to add.
  # Adding an input needs only a line here, `nix flake lock` and a row in lockgen's table.
  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
    nixpkgs-cuda-legacy.url = "github:NixOS/nixpkgs/nixos-25.05";
    nixpkgs-cuda-next.url = "github:NixOS/nixpkgs/07e1d92cdc0ed416cfa11ff3ca40d17e61cfba7a";
  };

  outputs =
    inputs@{ self, nixpkgs, ... }:
    let
      L = import ./nix/lib.nix;
      # written by `lockgen toolchain --write` (and `lockgen lock`) from uv.lock and flake.lock
      toolchain = L.readToolchain ./nix/toolchain.json;
      specs = L.shellSpecs toolchain;
      uvLock = builtins.fromTOML (builtins.readFile ./uv.lock);

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

      # the CUDA toolkit is unfree (NVIDIA's CUDA EULA): allow exactly it, nothing else unfree
      config.allowUnfreePredicate = L.allowUnfreeCuda;
      nixpkgsInputs = builtins.removeAttrs inputs [ "self" ];
      # every nixpkgs input, imported per system; lazily, so an input no shell uses is never fetched
      pkgsByInputBySystem = forAllSystems (
        system: builtins.mapAttrs (_: input: import input { inherit system config; }) nixpkgsInputs
      );
      pkgsBySystem = forAllSystems (system: pkgsByInputBySystem.${system}.nixpkgs);
      pythonOf = pkgs: pkgs.${L.pythonAttr toolchain.python};
      lockgenOf =
        pkgs:
        import ./nix/lockgen.nix {
          python = pythonOf pkgs;
          src = ./lockgen;
        };
      imageOf =
        system: member:
        import ./nix/image.nix {
          pkgs = pkgsBySystem.${system};
          python = pythonOf pkgsBySystem.${system};
          wheels =
            (toolchain.images or { }).${member}.${system}
              or (L.fail "nix/toolchain.json lists no image wheels for ${member} on ${system}; run `lockgen toolchain --write`");
          root = "${self}";
          inherit
            member
            system
            uvLock
            ;
        };
      members = builtins.attrNames toolchain.members;
    in
    {
      # nix develop (.#default), nix develop .#train, nix develop .#serve
      devShells = forAllSystems (
        system:
        let
          pkgs = pkgsBySystem.${system};
          lockgen = lockgenOf pkgs;
        in
        builtins.mapAttrs (
          _: spec:
          import ./nix/shell.nix {
            inherit pkgs spec lockgen;
            pkgsByInput = pkgsByInputBySystem.${system};
          }
        ) specs
      );

      # nix build .#lockgen; nix build .#train-env (the member's locked venv); nix build .#train-image (OCI image)
      packages = forAllSystems (
        system:
        let
          lockgen = lockgenOf pkgsBySystem.${system};
        in
        {
          inherit lockgen;
          default = lockgen;
        }
        // builtins.listToAttrs (
          builtins.concatMap (member: [
            {
              name = "${member}-env";
              value = (imageOf system member).env;
            }
            {
              name = "${member}-image";
              value = (imageOf system member).image;
            }
          ]) members
        )
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
          # nix/toolchain.json agrees with uv.lock and with the pinned nixpkgs inputs
          toolchain = pkgs.runCommand "toolchain-matches-lock" { nativeBuildInputs = [ lockgen ]; } ''
            lockgen -C ${self} toolchain | tee $out
          '';
        }
      );

      formatter = forAllSystems (system: pkgsBySystem.${system}.nixfmt);
    };
}

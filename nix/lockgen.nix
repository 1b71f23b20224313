# lockgen as a Nix-built application, from lockgen/pyproject.toml: its name, version, build backend and
# dependencies are read from that file, so a new dependency needs no edit here.
{
  python, # a nixpkgs interpreter (python312)
  src, # the lockgen/ directory
}:
let
  L = import ./lib.nix;
  project = builtins.fromTOML (builtins.readFile (src + "/pyproject.toml"));
  py = python.pkgs;
  pkgsOf = reqs: map (r: py.${L.requirementName r}) reqs;
  dependencies = pkgsOf (project.project.dependencies or [ ]);
in
py.buildPythonApplication {
  pname = project.project.name;
  version = project.project.version;
  pyproject = true;
  inherit src;
  build-system = pkgsOf (project.build-system.requires or [ ]);
  inherit dependencies;
  # nixpkgs may lag PyPI by a release; lockgen's lower bounds are conservative
  pythonRelaxDeps = true;
  pythonImportsCheck = [ "lockgen" ];
  # the runtime dependencies as nixpkgs Python packages (the flake's test check reuses them)
  passthru.pythonDependencies = dependencies;
  meta = {
    description = project.project.description or "lockgen";
    mainProgram = "lockgen";
  };
}

# Entry hook of the gpu-workspace dev shells; flake.nix substitutes the @...@ values (nix/shell.nix).
# 1. nixpkgs' Python setup hook fills PYTHONPATH from the shell's inputs; uv's venvs must not see those.
unset PYTHONPATH
export GPU_WORKSPACE_SHELL=@shell@

# 2. The host's NVIDIA driver libraries, and only those, for the wheels uv installs (nix/driver_libs.py), then the
#    C++ runtime and zlib from nixpkgs that manylinux wheels expect from the system.
_gw_dir="$(@python@ -I @driverLibs@)" || _gw_dir=""
_gw_libs=@runtimeLibs@
if [ -n "$_gw_dir" ]; then
  export LD_LIBRARY_PATH="$_gw_dir:$_gw_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export TRITON_LIBCUDA_PATH="$_gw_dir"
else
  export LD_LIBRARY_PATH="$_gw_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

# 3. Say what this shell is, then compare the host driver with what its CUDA needs (lockgen's tables).
if [ -n "@cuda@" ]; then
  echo "gpu-workspace @shell@ shell: Python @pythonVersion@ (Nix), CUDA @cuda@ toolkit (@nixAttr@, nvcc in \$CUDA_HOME/bin), venv $UV_PROJECT_ENVIRONMENT" >&2
  @lockgen@ toolchain guard --member @shell@ --cuda @cuda@ --policy @policy@ >&2 || true
else
  echo "gpu-workspace @shell@ shell: Python @pythonVersion@ (Nix), no CUDA toolkit, venv $UV_PROJECT_ENVIRONMENT" >&2
fi
unset _gw_dir _gw_libs

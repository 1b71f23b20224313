"""lockgen: keep a uv workspace's CUDA-linked pins inside the CUDA window of a GPU fleet."""

__version__ = "0.1.0"

# /// script
# # lockgen export --format pep723: exact pins of the train member from uv.lock; regenerate, do not edit
# requires-python = "==3.12.*"
# dependencies = [
#     "marimo==0.25.2 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "ipython==9.18.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "accelerate==1.15.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "aiohappyeyeballs==2.7.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "aiohttp==3.14.5 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "aiosignal==1.4.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "annotated-doc==0.0.7 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "annotated-types==0.8.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "anyio==4.16.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "attrs==26.1.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "bitsandbytes==0.50.2 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "certifi==2026.10.19.post1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "charset-normalizer==3.5.3 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "click==8.5.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "cuda-bindings==12.9.4 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "cuda-pathfinder==1.9.1 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "cut-cross-entropy==25.1.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "datasets==4.8.5 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "diffusers==0.42.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "dill==0.4.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "docstring-parser==0.18.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "einops==0.8.2 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "filelock==4.3.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "frozenlist==1.8.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "fsspec==2026.2.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "h11==0.16.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "hf-transfer==0.1.9 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "hf-xet==1.8.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "httpcore==1.0.9 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "httpx==0.28.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "huggingface-hub==1.33.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "idna==3.20 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "importlib-metadata==10.2.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "jinja2==3.1.6 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "json5==0.17.3 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "lazy-importer==0.1.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "markdown-it-py==4.3.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "markupsafe==3.0.4 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "mdurl==0.1.2 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "mpmath==1.3.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "msgspec==0.22.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "multidict==7.2.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "multiprocess==0.70.19 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "nest-asyncio==1.6.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "networkx==3.7 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "numpy==2.5.5 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "nvidia-cublas-cu12==12.8.4.1 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-cuda-cupti-cu12==12.8.90 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-cuda-nvrtc-cu12==12.8.93 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-cuda-runtime-cu12==12.8.90 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-cudnn-cu12==9.10.2.21 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-cufft-cu12==11.3.3.83 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-cufile-cu12==1.13.1.3 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-curand-cu12==10.3.9.90 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-cusolver-cu12==11.7.3.90 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-cusparse-cu12==12.5.8.93 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-cusparselt-cu12==0.7.1 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-nccl-cu12==2.27.5 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-nvjitlink-cu12==12.8.93 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-nvshmem-cu12==3.4.5 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-nvtx-cu12==12.8.90 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "packaging==26.4 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "pandas==3.1.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "peft==0.21.2 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "pillow==13.0.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "propcache==0.5.4 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "protobuf==7.36.2 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "psutil==7.2.2 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "pyarrow==26.0.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "pydantic==2.14.4 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "pydantic-core==2.50.5 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "pygments==2.21.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "python-dateutil==4.0.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "pyyaml==6.0.4 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "regex==2026.11.19 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "requests==2.34.2 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "rich==15.0.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "safetensors==0.8.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "sentencepiece==0.2.3 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "setuptools==84.2.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "shellingham==1.5.4 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "structlog==26.1.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "sympy==1.14.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "tokenizers==0.23.3 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "torch==2.10.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "torchao==0.18.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "torchvision==0.25.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "tqdm==4.70.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "transformers==5.17.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "triton==3.8.0 ; sys_platform == 'linux' and platform_machine == 'aarch64'",
#     "triton==3.6.0 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "trl==1.15.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "typeguard==4.6.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "typer==0.29.2 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "typing-extensions==4.16.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "typing-inspection==0.4.5 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "tyro==1.0.17 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "tzdata==2026.6 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "unsloth==2026.10.9 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "unsloth-zoo==2026.10.9 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "urllib3==2.8.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "wheel==0.48.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "xformers==0.0.34 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "xxhash==4.1.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "yarl==1.25.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "zipp==4.1.2 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "asttokens==3.0.2 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "cffi==2.1.1 ; implementation_name == 'pypy' and ((platform_machine == 'aarch64' and sys_platform == 'linux') or (platform_machine == 'x86_64' and sys_platform == 'linux'))",
#     "docutils==0.23 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "executing==2.3.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "ipython-pygments-lexers==1.1.1 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "ipython==9.18.1 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "itsdangerous==2.2.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "jedi==0.20.1 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "loro==1.17.1 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "marimo==0.25.2 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "markdown==3.11.3 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "matplotlib-inline==0.2.2 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "narwhals==2.29.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "parso==0.8.7 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "pexpect==4.9.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "prompt-toolkit==3.0.53 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "ptyprocess==0.7.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "pure-eval==0.2.4 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "pycparser==3.12 ; implementation_name == 'pypy' and ((platform_machine == 'aarch64' and sys_platform == 'linux') or (platform_machine == 'x86_64' and sys_platform == 'linux'))",
#     "pymdown-extensions==11.0.2 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "python-multipart==0.0.34 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "pyzmq==27.3.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "stack-data==0.6.3 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "starlette==1.10.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "tomlkit==0.15.2 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "traitlets==5.16.1 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "uvicorn==0.54.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "wcwidth==0.9.4 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "websockets==17.4 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
# ]
#
# [tool.lockgen.export]
# member = "train"
# extra = ["marimo==0.25.2", "ipython==9.18.1"]
# extra-pins = [
#     "asttokens==3.0.2 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "cffi==2.1.1 ; implementation_name == 'pypy' and ((platform_machine == 'aarch64' and sys_platform == 'linux') or (platform_machine == 'x86_64' and sys_platform == 'linux'))",
#     "docutils==0.23 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "executing==2.3.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "ipython-pygments-lexers==1.1.1 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "ipython==9.18.1 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "itsdangerous==2.2.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "jedi==0.20.1 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "loro==1.17.1 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "marimo==0.25.2 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "markdown==3.11.3 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "matplotlib-inline==0.2.2 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "narwhals==2.29.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "parso==0.8.7 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "pexpect==4.9.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "prompt-toolkit==3.0.53 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "ptyprocess==0.7.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "pure-eval==0.2.4 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "pycparser==3.12 ; implementation_name == 'pypy' and ((platform_machine == 'aarch64' and sys_platform == 'linux') or (platform_machine == 'x86_64' and sys_platform == 'linux'))",
#     "pymdown-extensions==11.0.2 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "python-multipart==0.0.34 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "pyzmq==27.3.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "stack-data==0.6.3 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "starlette==1.10.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "tomlkit==0.15.2 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "traitlets==5.16.1 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "uvicorn==0.54.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "wcwidth==0.9.4 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "websockets==17.4 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
# ]
#
# [tool.uv]
# exclude-newer = "2026-11-26T00:00:00Z"
# constraint-dependencies = [
#     "nvidia-cuda-runtime-cu11>=11.8",
#     "nvidia-cuda-runtime<13.1",
#     "cuda-toolkit<13.1",
#     "bitsandbytes>=0.44.1",
#     "vllm>=0.6.0",
#     "xformers!=0.0.35.*",
# ]
# override-dependencies = [
#     "accelerate==1.15.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "aiohappyeyeballs==2.7.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "aiohttp==3.14.5 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "aiosignal==1.4.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "annotated-doc==0.0.7 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "annotated-types==0.8.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "anyio==4.16.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "attrs==26.1.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "bitsandbytes==0.50.2 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "certifi==2026.10.19.post1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "charset-normalizer==3.5.3 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "click==8.5.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "cuda-bindings==12.9.4 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "cuda-pathfinder==1.9.1 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "cut-cross-entropy==25.1.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "datasets==4.8.5 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "diffusers==0.42.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "dill==0.4.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "docstring-parser==0.18.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "einops==0.8.2 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "filelock==4.3.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "frozenlist==1.8.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "fsspec==2026.2.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "h11==0.16.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "hf-transfer==0.1.9 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "hf-xet==1.8.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "httpcore==1.0.9 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "httpx==0.28.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "huggingface-hub==1.33.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "idna==3.20 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "importlib-metadata==10.2.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "jinja2==3.1.6 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "json5==0.17.3 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "lazy-importer==0.1.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "markdown-it-py==4.3.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "markupsafe==3.0.4 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "mdurl==0.1.2 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "mpmath==1.3.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "msgspec==0.22.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "multidict==7.2.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "multiprocess==0.70.19 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "nest-asyncio==1.6.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "networkx==3.7 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "numpy==2.5.5 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "nvidia-cublas-cu12==12.8.4.1 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-cuda-cupti-cu12==12.8.90 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-cuda-nvrtc-cu12==12.8.93 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-cuda-runtime-cu12==12.8.90 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-cudnn-cu12==9.10.2.21 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-cufft-cu12==11.3.3.83 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-cufile-cu12==1.13.1.3 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-curand-cu12==10.3.9.90 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-cusolver-cu12==11.7.3.90 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-cusparse-cu12==12.5.8.93 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-cusparselt-cu12==0.7.1 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-nccl-cu12==2.27.5 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-nvjitlink-cu12==12.8.93 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-nvshmem-cu12==3.4.5 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "nvidia-nvtx-cu12==12.8.90 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "packaging==26.4 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "pandas==3.1.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "peft==0.21.2 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "pillow==13.0.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "propcache==0.5.4 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "protobuf==7.36.2 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "psutil==7.2.2 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "pyarrow==26.0.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "pydantic==2.14.4 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "pydantic-core==2.50.5 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "pygments==2.21.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "python-dateutil==4.0.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "pyyaml==6.0.4 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "regex==2026.11.19 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "requests==2.34.2 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "rich==15.0.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "safetensors==0.8.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "sentencepiece==0.2.3 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "setuptools==84.2.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "shellingham==1.5.4 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "structlog==26.1.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "sympy==1.14.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "tokenizers==0.23.3 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "torch==2.10.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "torchao==0.18.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "torchvision==0.25.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "tqdm==4.70.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "transformers==5.17.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "triton==3.8.0 ; sys_platform == 'linux' and platform_machine == 'aarch64'",
#     "triton==3.6.0 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "trl==1.15.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "typeguard==4.6.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "typer==0.29.2 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "typing-extensions==4.16.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "typing-inspection==0.4.5 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "tyro==1.0.17 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "tzdata==2026.6 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "unsloth==2026.10.9 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "unsloth-zoo==2026.10.9 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "urllib3==2.8.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "wheel==0.48.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "xformers==0.0.34 ; sys_platform == 'linux' and platform_machine == 'x86_64'",
#     "xxhash==4.1.0 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "yarl==1.25.1 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "zipp==4.1.2 ; sys_platform == 'linux' and (platform_machine == 'aarch64' or platform_machine == 'x86_64')",
#     "asttokens==3.0.2 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "cffi==2.1.1 ; implementation_name == 'pypy' and ((platform_machine == 'aarch64' and sys_platform == 'linux') or (platform_machine == 'x86_64' and sys_platform == 'linux'))",
#     "docutils==0.23 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "executing==2.3.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "ipython-pygments-lexers==1.1.1 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "ipython==9.18.1 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "itsdangerous==2.2.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "jedi==0.20.1 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "loro==1.17.1 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "marimo==0.25.2 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "markdown==3.11.3 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "matplotlib-inline==0.2.2 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "narwhals==2.29.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "parso==0.8.7 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "pexpect==4.9.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "prompt-toolkit==3.0.53 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "ptyprocess==0.7.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "pure-eval==0.2.4 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "pycparser==3.12 ; implementation_name == 'pypy' and ((platform_machine == 'aarch64' and sys_platform == 'linux') or (platform_machine == 'x86_64' and sys_platform == 'linux'))",
#     "pymdown-extensions==11.0.2 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "python-multipart==0.0.34 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "pyzmq==27.3.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "stack-data==0.6.3 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "starlette==1.10.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "tomlkit==0.15.2 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "traitlets==5.16.1 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "uvicorn==0.54.0 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "wcwidth==0.9.4 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
#     "websockets==17.4 ; (platform_machine == 'aarch64' or platform_machine == 'x86_64') and sys_platform == 'linux'",
# ]
# ///

# The header above is generated (lockgen export); its environment markers make long lines.
# ruff: noqa: E501

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _():
    import marimo as mo

    mo.md(
        r"""
        # Train smoke, as a notebook

        The `train-smoke` check of `workspaces/train` in marimo form: a tiny random Llama and a word-level tokenizer
        are built offline, then Unsloth + TRL run a few LoRA SFT steps on a small chat dataset. Without a GPU,
        Unsloth 2026.10 trains on CPU (a few seconds of training after about 20 s of imports).

        The `# /// script` header above is written by lockgen from `uv.lock` - the exact pins of the `train`
        member - so `uv run notebooks/train_smoke.py` or `marimo edit --sandbox notebooks/train_smoke.py` gets the
        same environment as `uv sync --frozen --package train` (plus marimo and ipython, pinned too). Regenerate it
        with `lockgen export --member train --format pep723 -o notebooks/train_smoke.py`. For Colab or Jupyter:
        `lockgen export --member train --format ipynb --notebook notebooks/train_smoke.py -o train_smoke.ipynb`
        (marimo's own exporter, with a first cell that installs these pins).
        """
    )
    return (mo,)


@app.cell
def _():
    import os

    for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "UNSLOTH_DISABLE_STATISTICS"):
        os.environ[_var] = "1"  # nothing is downloaded
    import torch
    import unsloth  # before transformers, TRL and PEFT: it patches them
    from datasets import Dataset
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    from trl import SFTConfig, SFTTrainer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"unsloth {unsloth.__version__}, torch {torch.__version__}, device {device}")
    return (
        Dataset,
        LlamaConfig,
        LlamaForCausalLM,
        PreTrainedTokenizerFast,
        SFTConfig,
        SFTTrainer,
        Tokenizer,
        device,
        models,
        pre_tokenizers,
        processors,
        torch,
        unsloth,
    )


@app.cell
def _(LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, Tokenizer, models, pre_tokenizers, processors, torch):
    import tempfile
    from pathlib import Path

    work = Path(tempfile.mkdtemp(prefix="train-smoke-notebook-"))
    _special = ["<pad>", "<unk>", "<s>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
    # fmt: off
    _words = [
        "the", "a", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "cat", "dog",
        "bird", "fish", "tree", "river", "stone", "cloud", "sun", "moon", "red", "blue", "green", "small",
        "big", "what", "colour", "is", "and", "are", "please",
    ]
    # fmt: on
    _vocab = {t: i for i, t in enumerate(_special + _words)}
    _core = Tokenizer(models.WordLevel(vocab=_vocab, unk_token="<unk>"))
    _core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    _core.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", _vocab["<s>"])])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_core,
        bos_token="<s>",
        eos_token="<|end|>",
        unk_token="<unk>",
        pad_token="<pad>",
        additional_special_tokens=["<|system|>", "<|user|>", "<|assistant|>"],
    )
    tokenizer.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <|end|> {% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    model_dir = work / "model"
    tokenizer.save_pretrained(str(model_dir))
    torch.manual_seed(0)
    _config = LlamaConfig(
        vocab_size=64 * -(-len(tokenizer) // 64),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    LlamaForCausalLM(_config).to(torch.bfloat16).save_pretrained(str(model_dir))
    print(f"tiny Llama in {model_dir}")
    return model_dir, work


@app.cell
def _(Dataset, SFTConfig, SFTTrainer, device, model_dir, torch, unsloth, work):
    _things = ["cat", "dog", "bird", "fish", "tree", "river", "stone", "cloud", "sun", "moon"]
    _colours = ["red", "blue", "green"]
    _numbers = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    _chats = [
        [
            {"role": "user", "content": f"what colour is the {_things[i % 10]} please"},
            {
                "role": "assistant",
                "content": f"the {_things[i % 10]} is {_colours[i % 3]} and {_numbers[i % 10]} "
                f"{_things[i % 10]} are big",
            },
        ]
        for i in range(16)
    ]
    _bf16 = unsloth.is_bfloat16_supported()
    model, tok = unsloth.FastLanguageModel.from_pretrained(
        model_name=str(model_dir),
        max_seq_length=64,
        dtype=torch.bfloat16 if _bf16 else (torch.float16 if device == "cuda" else torch.float32),
        load_in_4bit=device == "cuda",
    )
    model = unsloth.FastLanguageModel.get_peft_model(
        model,
        r=8,
        lora_alpha=16,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        use_gradient_checkpointing="unsloth",
        random_state=3407,
    )
    _texts = [tok.apply_chat_template(c, tokenize=False) for c in _chats]
    trainer = SFTTrainer(
        model=model,
        processing_class=tok,
        train_dataset=Dataset.from_dict({"text": _texts}),
        args=SFTConfig(
            output_dir=str(work / "adapter"),
            max_steps=6,
            per_device_train_batch_size=4,
            learning_rate=5e-3,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            bf16=_bf16,
            fp16=device == "cuda" and not _bf16,
            dataset_text_field="text",
            max_length=64,
        ),
    )
    trainer.train()
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    model.save_pretrained(str(work / "adapter"))
    print("losses:", ", ".join(f"{x:.3f}" for x in losses))
    return (losses,)


@app.cell
def _(losses, mo, work):
    import math

    ok = bool(losses) and all(math.isfinite(x) for x in losses) and (work / "adapter" / "adapter_config.json").exists()
    print("train smoke:", "ok" if ok else "FAILED")
    mo.md(
        f"**{'ok' if ok else 'FAILED'}**: {len(losses)} steps, final loss {losses[-1]:.3f}, adapter in `{work}/adapter`"
    )
    return


if __name__ == "__main__":
    app.run()

"""Preset configurations (package data): fabric presets ``<name>.yaml`` and memory presets
``memory/<name>.yaml``. Code reads them through :func:`hw.params.configs_dir`."""

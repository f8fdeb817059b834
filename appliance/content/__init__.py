"""What the layers show: uploaded images (and, later, presets, playlists, schedules)."""

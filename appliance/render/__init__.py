"""The render loop and what it needs: frame pacing, animation supervision, the clock."""

"""policy: Cedar packs, composed most-restrictive-wins, with holds derived."""

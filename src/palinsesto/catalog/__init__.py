"""What a tenant offers: categories, channels, bouquets, movies, series, and M3U import."""

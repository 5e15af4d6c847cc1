"""What people read in a browser, rendered on the server: the HTML report (`yiwang report`) now,
the consoles next (issue 12). Templates escape by default; charts are inline SVG; nothing is
fetched from the network when a page is opened."""

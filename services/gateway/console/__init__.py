"""The browser console: sign-in sessions (cookie + CSRF token) and what its forms are generated from."""

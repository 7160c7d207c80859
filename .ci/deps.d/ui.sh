# The web UI (issue 16): node and npm rebuild ui/dist from ui/src in
# `make lint` (ui-check), and the browser tests in ui/ drive a real
# headless Chromium through chromedp.
apt_install nodejs chromium
command -v npm >/dev/null 2>&1 || apt_install npm

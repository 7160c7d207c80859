# Release flows (issue 15): the git trigger runs `git ls-remote`, and its
# test pushes commits to a bare repository on disk with the real git.
apt_install git

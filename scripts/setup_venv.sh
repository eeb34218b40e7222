# Copyright 2026 ps_control contributors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

# shellcheck shell=bash
# Shared set-up of scripts/quickstart.sh and scripts/test.sh (sourced, not run).
#
#   ps_control_setup_venv EXTRAS    e.g. ps_control_setup_venv ros,test
#
# Creates the virtual environment $PS_CONTROL_VENV (default: .venv in the clone) with the first
# Python >= 3.10 found, then installs this package editable with the given extras, every
# version pinned by requirements/constraints.txt. A second call with nothing changed (same
# constraints, setup.py, setup.cfg, package.xml, Python and no new extras) installs nothing.
# Sets PS_CONTROL_ROOT, PS_CONTROL_VENV and PS_CONTROL_PYTHON (the venv's interpreter).
#
# Environment: PYTHON=/path/to/python3.X picks the interpreter for a new venv;
# PS_CONTROL_REINSTALL=1 forces the pip step.

PS_CONTROL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PS_CONTROL_VENV="${PS_CONTROL_VENV:-$PS_CONTROL_ROOT/.venv}"
PS_CONTROL_CONSTRAINTS="$PS_CONTROL_ROOT/requirements/constraints.txt"
PS_CONTROL_PYTHON="$PS_CONTROL_VENV/bin/python"

_psc_log() { printf '[ps_control setup] %s\n' "$*"; }
_psc_die() { printf '[ps_control setup] error: %s\n' "$*" >&2; return 1; }

# "X.Y" of an interpreter that runs and is >= 3.10, else nothing.
_psc_py_version() {
  "$1" -c 'import sys; v = sys.version_info[:2]; print("%d.%d" % v if v >= (3, 10) else "")' \
    2>/dev/null
}

# Pick the interpreter for a new venv. PyPI has pybullet wheels only for CPython 3.10 and
# 3.11 (others compile it from source: minutes, and a C++ compiler plus Python headers), so a
# 3.10/3.11 interpreter is preferred when there is one.
_psc_pick_python() {
  local candidates cand version fallback=""
  if [ -n "${PYTHON:-}" ]; then
    candidates="$PYTHON"
  else
    candidates="python3 python3.11 python3.10 python3.12 python3.13 python3.14"
  fi
  for cand in $candidates; do
    command -v "$cand" >/dev/null 2>&1 || continue
    version="$(_psc_py_version "$cand")"
    [ -n "$version" ] || continue
    case "$version" in
      3.10|3.11) echo "$cand"; return 0 ;;
      *) [ -n "$fallback" ] || fallback="$cand" ;;
    esac
  done
  if [ -n "$fallback" ]; then
    echo "$fallback"
    return 0
  fi
  return 1
}

_psc_stamp() {
  # what the installed environment depends on; extras are tracked separately
  {
    cat "$PS_CONTROL_CONSTRAINTS" "$PS_CONTROL_ROOT/setup.py" "$PS_CONTROL_ROOT/setup.cfg" \
      "$PS_CONTROL_ROOT/package.xml"
    "$PS_CONTROL_PYTHON" -c 'import sys; print(sys.version)'
    echo "$PS_CONTROL_ROOT"
  } | sha256sum | cut -d' ' -f1
}

# The venv brings its own rclpy, messages and Fast DDS. A sourced ROS 2 installation in the
# same shell would mix in its own libraries and modules (PYTHONPATH, LD_LIBRARY_PATH), so the
# scripts run without it. Use colcon for a ROS 2 installation (README.md).
_psc_leave_ros_environment() {
  if [ -n "${ROS_DISTRO:-}${AMENT_PREFIX_PATH:-}${COLCON_PREFIX_PATH:-}" ]; then
    _psc_log "note: ignoring the sourced ROS 2 environment (${ROS_DISTRO:-unknown distro})" \
      "in this shell; the venv has its own rclpy"
    unset ROS_DISTRO ROS_VERSION ROS_PYTHON_VERSION AMENT_PREFIX_PATH CMAKE_PREFIX_PATH \
      COLCON_PREFIX_PATH PYTHONPATH LD_LIBRARY_PATH
  fi
  if [ -n "${RMW_IMPLEMENTATION:-}" ] && [ "$RMW_IMPLEMENTATION" != rmw_fastrtps_cpp ]; then
    _psc_log "note: RMW_IMPLEMENTATION=$RMW_IMPLEMENTATION is not in the venv; using Fast DDS"
    unset RMW_IMPLEMENTATION
  fi
}

ps_control_setup_venv() {
  local extras="${1:-ros}" python version stamp_file installed_extras wanted log start
  start=$SECONDS
  _psc_leave_ros_environment
  stamp_file="$PS_CONTROL_VENV/.ps_control-install"
  log="$PS_CONTROL_VENV/pip-install.log"

  # 1. the virtual environment
  if [ -x "$PS_CONTROL_PYTHON" ] && [ -n "$(_psc_py_version "$PS_CONTROL_PYTHON")" ]; then
    :
  else
    if [ -e "$PS_CONTROL_VENV" ]; then
      _psc_log "removing unusable virtual environment $PS_CONTROL_VENV"
      rm -rf "$PS_CONTROL_VENV"
    fi
    python="$(_psc_pick_python)" || {
      _psc_die "no Python >= 3.10 found (tried ${PYTHON:-python3, python3.10 ... python3.14})."
      return 1
    }
    version="$(_psc_py_version "$python")"
    _psc_log "creating $PS_CONTROL_VENV with $(command -v "$python") (Python $version)"
    if ! "$python" -m venv "$PS_CONTROL_VENV"; then
      rm -rf "$PS_CONTROL_VENV"
      _psc_die "'$python -m venv' failed. On Debian/Ubuntu install the venv module:" \
        "sudo apt install python3-venv (or python$version-venv)."
      return 1
    fi
    case "$version" in
      3.10|3.11) ;;
      *) _psc_log "note: PyPI has no pybullet wheel for Python $version; pip compiles it" \
           "(10-25 min on 2 cores, cached afterwards; needs g++ and python3-dev)." ;;
    esac
  fi

  # 2. the package and its pinned dependencies
  wanted="$(printf '%s' "$extras" | tr ',' '\n' | sed '/^$/d')"
  installed_extras=""
  if [ -f "$stamp_file" ] && [ "$(head -n1 "$stamp_file")" = "$(_psc_stamp)" ]; then
    installed_extras="$(tail -n +2 "$stamp_file")"
  fi
  if [ -z "${PS_CONTROL_REINSTALL:-}" ] && [ -n "$installed_extras" ] && \
     [ -z "$(comm -23 <(echo "$wanted" | sort -u) <(echo "$installed_extras" | sort -u))" ]; then
    _psc_log "environment up to date ($PS_CONTROL_VENV)"
    return 0
  fi
  # keep what an earlier call installed: the union of old and new extras
  wanted="$(printf '%s\n%s\n' "$wanted" "$installed_extras" | sed '/^$/d' | sort -u)"
  extras="$(echo "$wanted" | paste -sd, -)"

  _psc_log "installing ps_control[$extras] with pinned dependencies (log: $log)"
  rm -f "$stamp_file"
  if ! {
    "$PS_CONTROL_PYTHON" -m pip install --disable-pip-version-check --progress-bar off \
      -c "$PS_CONTROL_CONSTRAINTS" pip setuptools wheel &&
    "$PS_CONTROL_PYTHON" -m pip install --disable-pip-version-check --progress-bar off \
      --no-build-isolation -c "$PS_CONTROL_CONSTRAINTS" -e "${PS_CONTROL_ROOT}[${extras}]"
  } >"$log" 2>&1; then
    grep -v "^WARNING: Location '.*' is ignored" "$log" | tail -n 40 >&2
    _psc_die "pip install failed; full log: $log"
    return 1
  fi

  # 3. rclpy from the ros-* wheels: check that it loads and DDS starts before going on
  if echo "$wanted" | grep -qx ros; then
    if ! ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST "$PS_CONTROL_PYTHON" -c \
        'import rclpy; rclpy.init(); rclpy.shutdown()' >>"$log" 2>&1; then
      tail -n 20 "$log" >&2
      _psc_die "rclpy does not start in $PS_CONTROL_VENV; log: $log"
      return 1
    fi
  fi

  { _psc_stamp; echo "$wanted"; } >"$stamp_file"
  _psc_log "installed in $((SECONDS - start)) s ($("$PS_CONTROL_PYTHON" --version))"
}

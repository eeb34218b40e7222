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

"""
Read a ROS 2 parameter file without ROS.

The task files in config/ are ROS 2 parameter files, so the nodes can load the same file::

    /**:
      ros__parameters:
        task:
          dt: 0.05
          ...

ROS flattens nested mappings to dotted names (task.dt). A ROS parameter is a scalar (bool, int,
float, string) or a flat list of one type (a list of ints is not a list of floats: write 0.0,
not 0), never null, never a list of lists; read_parameters enforces the same, naming the
offending parameter, so a file that loads here loads in ROS.
"""

import yaml

WILDCARD = '/**'


class _ParameterFileLoader(yaml.SafeLoader):
    """
    YAML's safe loader, held to what ROS 2 parameter files allow.

    It refuses a key given twice in one mapping (YAML keeps the last silently), and anchors,
    aliases and merge keys (``&a``, ``*a``, ``<<:``), which rcl's parser refuses or takes as a
    plain key.
    """

    def compose_node(self, parent, index):
        event = self.peek_event()
        if getattr(event, 'anchor', None) is not None:
            raise yaml.composer.ComposerError(
                None, None, 'anchors and aliases (%s) are not allowed in a ROS 2 parameter file'
                % event.anchor, event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == 'tag:yaml.org,2002:merge':
                raise yaml.constructor.ConstructorError(
                    None, None, 'merge keys (<<) are not allowed in a ROS 2 parameter file',
                    key_node.start_mark)
            key = self.construct_object(key_node, deep=deep)
            try:
                repeated = key in seen
            except TypeError:  # unhashable: the safe loader refuses it, below
                continue
            if repeated:
                raise yaml.constructor.ConstructorError(
                    None, None, 'key %r given twice in one mapping' % (key,),
                    key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


INT64_RANGE = (-2 ** 63, 2 ** 63 - 1)  # a ROS integer parameter is 64 bits


def _check_integer(name, value):
    if (isinstance(value, int) and not isinstance(value, bool)
            and not INT64_RANGE[0] <= value <= INT64_RANGE[1]):
        raise ValueError('parameter %s is an integer beyond 64 bits (not a valid ROS '
                         'parameter)' % name)


def _check_leaf(name, value):
    if value is None:
        raise ValueError('parameter %s is null (not a valid ROS parameter)' % name)
    if isinstance(value, (bool, int, float, str)):
        _check_integer(name, value)
        return
    if isinstance(value, list):
        if not value:
            raise ValueError('parameter %s is an empty list (ROS cannot type it)' % name)
        kinds = {type(v) for v in value}
        if len(kinds) != 1 or next(iter(kinds)) not in (bool, int, float, str):
            raise ValueError('parameter %s must be a flat list of one type (bool, int, float or '
                             'string), got types %s' % (name, sorted(k.__name__ for k in kinds)))
        for index, item in enumerate(value):
            _check_integer('%s[%d]' % (name, index), item)
        return
    raise ValueError('parameter %s has unsupported type %s' % (name, type(value).__name__))


def check_parameters(mapping, prefix=''):
    """Raise ValueError naming the first leaf of the nested mapping that ROS 2 cannot hold."""
    for key, value in mapping.items():
        name = prefix + str(key)
        if isinstance(value, dict):
            check_parameters(value, name + '.')
        else:
            _check_leaf(name, value)


def flatten(mapping, prefix=''):
    """Return {dotted name: value} of a nested mapping, as ROS 2 names its parameters."""
    flat = {}
    for key, value in mapping.items():
        name = prefix + str(key)
        if isinstance(value, dict):
            flat.update(flatten(value, name + '.'))
        else:
            flat[name] = value
    return flat


def read_document(path):
    """Return the YAML document of a parameter file (ValueError: unreadable, or not one)."""
    try:
        with open(path, encoding='utf-8') as stream:
            return yaml.load(stream, Loader=_ParameterFileLoader)  # noqa: S506 (a safe loader)
    except OSError as error:
        raise ValueError('cannot read parameter file %s: %s' % (path, error)) from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:  # on one line: YAML's spans several
        where = '; '.join(line.strip() for line in str(error).splitlines() if line.strip())
        raise ValueError('parameter file %s is not valid YAML: %s' % (path, where)) from None


def read_parameters(path, node=WILDCARD, missing_ok=False):
    """
    Return the nested ros__parameters mapping of ``node`` (default '/**') in the file at path.

    Raises ValueError if the file is not valid YAML or uses what ROS 2 parameter files do not
    allow (a key given twice in one mapping, which YAML would keep the last of silently;
    anchors, aliases, merge keys: ``_ParameterFileLoader``), has no ``<node>:
    ros__parameters:`` mapping (with ``missing_ok``, a file without a ``<node>:`` section gives
    {}), or holds a value ROS 2 cannot take as a parameter.
    """
    document = read_document(path)
    if missing_ok and isinstance(document, dict) and node not in document:
        return {}
    if not isinstance(document, dict) or not isinstance(document.get(node), dict):
        raise ValueError("parameter file %s has no top-level '%s:' mapping" % (path, node))
    parameters = document[node].get('ros__parameters')
    if not isinstance(parameters, dict):
        raise ValueError("parameter file %s: '%s' has no 'ros__parameters:' mapping"
                         % (path, node))
    check_parameters(parameters)
    return parameters

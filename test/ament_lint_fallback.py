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
Stand-ins for ament_copyright and ament_xmllint where those are not installed.

ament_flake8 and ament_pep257 exist as ros-ament-* wheels on PyPI; ament_copyright and
ament_xmllint do not. On a ROS 2 installation test_copyright.py and test_xmllint.py use the real
tools; without one they call the checks below, which apply the same rules to this package:

* copyright: the files ament_copyright looks at (C/C++, CMake and Python sources, skipping
  folders starting with '.' or '_' and the setup.py beside package.xml; LICENSE and
  CONTRIBUTING.md at a repository root) must carry a copyright notice and the Apache License
  2.0 text, the way ament_copyright recognises them: notice line, then the license sections
  in order, whitespace-insensitive.
* xmllint: every .xml file must be well-formed (parsed by libxml2 through lxml, as xmllint
  does); a package manifest must follow REP 149 format 3 (the structure
  package_format3.xsd describes: element order and counts, name / version / email patterns,
  allowed attributes), since the schema itself cannot be downloaded here.

Each check returns (errors, checked): a list of 'path: message' strings and the number of
files looked at.
"""

import os
import re

# ---------------------------------------------------------------------------------------------
# copyright

SOURCE_EXTENSIONS = ('c', 'cc', 'cpp', 'cxx', 'h', 'hh', 'hpp', 'hxx', 'cmake', 'py')

APACHE2_HEADER_SECTIONS = [
    'Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file '
    'except in compliance with the License. You may obtain a copy of the License at '
    'http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to '
    'in writing, software distributed under the License is distributed on an "AS IS" BASIS, '
    'WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License '
    'for the specific language governing permissions and limitations under the License.',
]

APACHE2_LICENSE_SECTIONS = [
    'Apache License Version 2.0, January 2004 http://www.apache.org/licenses/',
    'TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION',
    '1. Definitions.',
    '2. Grant of Copyright License.',
    '3. Grant of Patent License.',
    '4. Redistribution.',
    '5. Submission of Contributions.',
    '6. Trademarks.',
    '7. Disclaimer of Warranty.',
    '8. Limitation of Liability.',
    '9. Accepting Warranty or Additional Liability.',
    'END OF TERMS AND CONDITIONS',
]

APACHE2_CONTRIBUTING_SECTIONS = [
    'Any contribution that you make to this repository will be under the Apache 2 License, as '
    'dictated by that [license](http://www.apache.org/licenses/LICENSE-2.0.html):',
    '5. Submission of Contributions. Unless You explicitly state otherwise, any Contribution '
    'intentionally submitted for inclusion in the Work by You to the Licensor shall be under '
    'the terms and conditions of this License, without any additional terms or conditions. '
    'Notwithstanding the above, nothing herein shall supersede or modify the terms of any '
    'separate license agreement you may have executed with Licensor regarding such '
    'Contributions.',
]

_YEARS = r'\d{4}(?:-\d{4})?'
COPYRIGHT_RE = re.compile(
    r'^[^\n\r]?\s*(?:\\copyright\s*)?copyright(?:\s+\(c\))?\s+(%s(?:,\s*%s)*),?\s+([^\n\r]+)$'
    % (_YEARS, _YEARS), re.IGNORECASE | re.MULTILINE)


def _normalize(text):
    return ' '.join(text.split())


def _sections_in_order(text, sections):
    text = _normalize(text)
    last = -1
    for section in sections:
        index = text.find(_normalize(section))
        if index <= last:
            return False
        last = index
    return True


def _is_repository_root(path):
    return any(os.path.exists(os.path.join(path, vcs)) for vcs in ('.git', '.hg'))


def copyright_files(paths):
    """Return {path: kind} of the files ament_copyright checks, kind 'source' or a file name."""
    files = {}

    def add_root_files(folder):
        for name in ('LICENSE', 'CONTRIBUTING.md'):
            files[os.path.join(folder, name)] = name

    for path in paths:
        if os.path.isdir(path):
            for dirpath, dirnames, filenames in os.walk(path):
                if _is_repository_root(dirpath):
                    add_root_files(dirpath)
                dirnames[:] = sorted(d for d in dirnames if d[0] not in '._')
                for filename in sorted(filenames):
                    if filename == 'setup.py' and \
                            os.path.exists(os.path.join(dirpath, 'package.xml')):
                        continue
                    if os.path.splitext(filename)[1][1:] in SOURCE_EXTENSIONS:
                        files[os.path.normpath(os.path.join(dirpath, filename))] = 'source'
        elif os.path.isfile(path) and os.path.splitext(path)[1][1:] in SOURCE_EXTENSIONS:
            files[os.path.normpath(path)] = 'source'
    return files


def _comment_blocks(content, token):
    """Yield the text of each block of consecutive lines starting with the comment token."""
    block = []
    for line in content.splitlines():
        if line.startswith(token) and not line.startswith('#!'):
            block.append(line[len(token) + 1:])
        elif block:
            yield '\n'.join(block)
            block = []
    if block:
        yield '\n'.join(block)


def check_source_header(path):
    """Return None if the file has a copyright notice and the Apache-2.0 header, else why not."""
    with open(path, encoding='utf-8') as f:
        content = f.read()
    if not content.strip():
        return None  # ament_copyright reports empty files without failing
    token = '#' if path.endswith(('.py', '.cmake')) else '//'
    found_copyright = False
    for block in _comment_blocks(content, token):
        match = COPYRIGHT_RE.search(block)
        if not match:
            continue
        found_copyright = True
        if _sections_in_order(block[match.end():], APACHE2_HEADER_SECTIONS):
            return None
    if not found_copyright:
        return 'could not find copyright notice'
    return 'copyright notice found, but not the Apache License 2.0 header after it'


def check_copyright(paths):
    """Check sources, LICENSE and CONTRIBUTING.md as ament_copyright does (Apache-2.0)."""
    errors = []
    files = copyright_files(paths)
    for path, kind in sorted(files.items()):
        if kind == 'source':
            problem = check_source_header(path)
        elif not os.path.exists(path):
            problem = 'file not found'
        else:
            with open(path, encoding='utf-8') as f:
                text = f.read()
            sections = APACHE2_LICENSE_SECTIONS if kind == 'LICENSE' else \
                APACHE2_CONTRIBUTING_SECTIONS
            problem = None if _sections_in_order(text, sections) else \
                'does not contain the Apache License 2.0 text ament_copyright expects'
        if problem:
            errors.append('%s: %s' % (path, problem))
    return errors, len(files)


# ---------------------------------------------------------------------------------------------
# xmllint

XML_EXTENSIONS = ('xml',)

# REP 149 (package format 3): the order of the manifest's elements, as package_format3.xsd
# defines it. Elements of one rank may repeat; ranks may not go backwards.
_FORMAT3_RANKS = [
    ('name',), ('version',), ('description',), ('maintainer',), ('license',), ('url',),
    ('author',),
    ('build_depend', 'build_export_depend', 'buildtool_depend', 'buildtool_export_depend',
     'exec_depend', 'depend', 'doc_depend', 'test_depend', 'conflict', 'replace'),
    ('group_depend',), ('member_of_group',), ('export',),
]
_RANK = {tag: rank for rank, tags in enumerate(_FORMAT3_RANKS) for tag in tags}
_DEPENDENCY_TAGS = _FORMAT3_RANKS[7]
_COUNTS = {'name': (1, 1), 'version': (1, 1), 'description': (1, 1), 'maintainer': (1, None),
           'license': (1, None), 'export': (0, 1)}
_VERSION_LIMITS = ('version_lt', 'version_lte', 'version_eq', 'version_gte', 'version_gt')
_ATTRIBUTES = {
    'version': ('compatibility',),
    'maintainer': ('email',),
    'author': ('email',),
    'license': ('file',),
    'url': ('type',),
    'group_depend': ('condition',),
    'member_of_group': ('condition',),
}
_NAME_RE = re.compile(r'^[a-z](_?[a-z0-9]+)*$')
_VERSION_RE = re.compile(r'^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$')
_EMAIL_RE = re.compile(
    r'^[-a-zA-Z0-9_%+]+(\.[-a-zA-Z0-9_%+]+)*@[-a-zA-Z0-9%]+(\.[-a-zA-Z0-9%]+)*\.[a-zA-Z]{2,}$')
_CONDITION_RE = re.compile(r'^[$A-Za-z0-9_\s<>!=()-]*$')


def xml_files(paths):
    """Return the .xml files under the paths, skipping '.'/'_' folders and AMENT_IGNOREd ones."""
    found = []
    for path in paths:
        if os.path.isdir(path):
            for dirpath, dirnames, filenames in os.walk(path):
                if 'AMENT_IGNORE' in dirnames + filenames:
                    dirnames[:] = []
                    continue
                dirnames[:] = sorted(d for d in dirnames if d[0] not in '._')
                found.extend(os.path.normpath(os.path.join(dirpath, f)) for f in sorted(filenames)
                             if os.path.splitext(f)[1][1:] in XML_EXTENSIONS)
        elif os.path.isfile(path):
            found.append(os.path.normpath(path))
    return sorted(set(found))


def check_package_format3(root):
    """Return the REP 149 format 3 violations of a parsed package.xml root element."""
    problems = []
    if root.tag != 'package':
        return ['root element is <%s>, not <package>' % root.tag]
    if root.get('format') != '3':
        problems.append('<package> needs format="3" (found %r)' % root.get('format'))
    for name in root.attrib:
        if name != 'format':
            problems.append('<package> has an unknown attribute %r' % name)
    children = [c for c in root if isinstance(c.tag, str)]  # skip comments and PIs
    counts = {}
    last_rank = -1
    for child in children:
        tag = child.tag
        line = getattr(child, 'sourceline', '?')
        if tag not in _RANK:
            problems.append('line %s: unknown element <%s>' % (line, tag))
            continue
        counts[tag] = counts.get(tag, 0) + 1
        if _RANK[tag] < last_rank:
            problems.append('line %s: <%s> is out of order (REP 149 order: %s)' % (
                line, tag, ', '.join(t[0] if len(t) == 1 else '*depend' for t in _FORMAT3_RANKS)))
        last_rank = max(last_rank, _RANK[tag])
        text = (child.text or '').strip()
        allowed = _ATTRIBUTES.get(tag, ())
        if tag in _DEPENDENCY_TAGS:
            allowed = _VERSION_LIMITS + ('condition',)
            if not text:
                problems.append('line %s: empty <%s>' % (line, tag))
        if tag != 'export' and tag != 'description':
            for attr in child.attrib:
                if attr not in allowed:
                    problems.append(
                        'line %s: <%s> has an unknown attribute %r' % (line, tag, attr))
            if len(child):
                problems.append('line %s: <%s> must contain text only' % (line, tag))
        condition = child.get('condition')
        if condition is not None and not _CONDITION_RE.match(condition):
            problems.append('line %s: invalid condition %r' % (line, condition))
        if tag == 'name' and not _NAME_RE.match(text):
            problems.append('line %s: invalid package name %r' % (line, text))
        if tag == 'version' and not _VERSION_RE.match(text):
            problems.append('line %s: version %r is not MAJOR.MINOR.PATCH' % (line, text))
        if tag == 'description' and not ''.join(child.itertext()).strip():
            problems.append('line %s: empty <description>' % line)
        if tag in ('maintainer', 'license', 'author') and not text:
            problems.append('line %s: empty <%s>' % (line, tag))
        if tag == 'maintainer' and child.get('email') is None:
            problems.append('line %s: <maintainer> needs an email attribute' % line)
        email = child.get('email')
        if tag in ('maintainer', 'author') and email is not None and not _EMAIL_RE.match(email):
            problems.append('line %s: invalid email %r' % (line, email))
        if tag == 'url' and child.get('type', 'website') not in (
                'website', 'bugtracker', 'repository'):
            problems.append('line %s: invalid url type %r' % (line, child.get('type')))
    for tag, (low, high) in _COUNTS.items():
        n = counts.get(tag, 0)
        if n < low or (high is not None and n > high):
            problems.append('<%s> appears %d times (allowed: %d..%s)' % (
                tag, n, low, 'n' if high is None else high))
    return problems


def check_xml(paths):
    """Check well-formedness of every .xml file and the format 3 structure of package.xml."""
    from lxml import etree

    errors = []
    files = xml_files(paths)
    for path in files:
        try:
            tree = etree.parse(path, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as e:
            errors.append('%s: not well-formed: %s' % (path, e))
            continue
        root = tree.getroot()
        is_manifest = os.path.basename(path) == 'package.xml' or any(
            'package_format3.xsd' in (pi.get('href') or '')
            for pi in _processing_instructions(tree, 'xml-model'))
        if is_manifest:
            errors.extend('%s: %s' % (path, p) for p in check_package_format3(root))
    return errors, len(files)


def _processing_instructions(tree, target):
    node = tree.getroot().getprevious()
    while node is not None:
        if getattr(node, 'target', None) == target:
            yield node
        node = node.getprevious()

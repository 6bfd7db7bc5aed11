//! `_dl_map_object_deps`: the breadth-first `DT_NEEDED` walk from a root.

use std::collections::{HashMap, HashSet};

use super::mapping::Request;
use super::{Failure, Loader, Process};
use crate::loader::search::{self, DepNode, DepTree, Rule};

/// One `_dl_map_object_deps` walk: its root, and what start-up adds to it.
pub(super) struct DepsWalk<'x> {
    pub(super) root: usize,
    /// The root's node in the tree being built.
    pub(super) root_node: usize,
    pub(super) dlopen: bool,
    /// Maps from this index on are new in this walk (their dependencies are shown).
    pub(super) new_from: usize,
    /// Preloaded maps with their tree nodes: searched right after the root.
    pub(super) preloads: &'x [(usize, usize)],
}

impl<'a> Loader<'a> {
    /// Breadth-first `DT_NEEDED` walk from `walk.root`; sets its search list and each new
    /// object's direct dependencies. Keeps going after a failure (as `ldd` does) so the
    /// tree is complete, and returns the first failure: ld.so stops there.
    pub(super) fn map_deps(
        &mut self,
        p: &mut Process<'a>,
        tree: &mut DepTree,
        walk: DepsWalk<'_>,
    ) -> Option<Failure> {
        let DepsWalk {
            root,
            root_node,
            dlopen,
            new_from,
            preloads,
        } = walk;
        let is_new = |i: usize| i >= new_from || i == root;
        let mut list = vec![root];
        let mut reserved: HashSet<usize> = HashSet::from([root]);
        let mut node_of: HashMap<usize, usize> = HashMap::from([(root, root_node)]);
        for &(map, node) in preloads {
            if reserved.insert(map) {
                list.push(map);
                node_of.insert(map, node);
            }
        }
        let mut failed: HashMap<String, String> = HashMap::new();
        let mut first_failure = None;
        let mut i = 0;
        while i < list.len() {
            let l = list[i];
            i += 1;
            let expand_in_tree = is_new(l) && node_of.contains_key(&l);
            let parent_node = node_of.get(&l).copied();
            for needed in p.maps[l].file.needed.clone() {
                let Some(name) = search::expand(&needed, &self.dst(&p.maps[l])) else {
                    continue;
                };
                let parent = if expand_in_tree { parent_node } else { None };
                let mut node = node(name.clone(), None, None, None, parent);
                if let Some(error) = failed.get(&name) {
                    node.error = Some(error.clone());
                    if expand_in_tree {
                        tree.push(node);
                    }
                    continue;
                }
                match self.map_object(
                    p,
                    Request {
                        loader: Some(l),
                        name: &name,
                        callmap: false,
                        dlopen,
                        root,
                    },
                    &mut node,
                ) {
                    Ok(r) => {
                        node.path = Some(p.maps[r.index].l_name.clone());
                        node.rule = Some(if r.new { r.rule } else { Rule::AlreadyLoaded });
                        node.via = r.via;
                        let index = if expand_in_tree {
                            Some(tree.push(node))
                        } else {
                            None
                        };
                        if reserved.insert(r.index) {
                            list.push(r.index);
                            if r.new
                                && let Some(index) = index
                            {
                                node_of.insert(r.index, index);
                            }
                        }
                        if is_new(l) && !p.maps[l].deps.contains(&r.index) {
                            p.maps[l].deps.push(r.index);
                        }
                    }
                    Err(f) => {
                        node.error = Some(f.error.clone());
                        failed.insert(name, f.error.clone());
                        if expand_in_tree {
                            tree.push(node);
                        }
                        first_failure.get_or_insert(f);
                    }
                }
            }
        }
        p.maps[root].searchlist = list;
        first_failure
    }
}

pub(super) fn node(
    name: String,
    path: Option<String>,
    rule: Option<Rule>,
    via: Option<String>,
    parent: Option<usize>,
) -> DepNode {
    DepNode {
        name,
        path,
        rule,
        via,
        error: None,
        skipped: Vec::new(),
        parent,
        children: Vec::new(),
        depth: 0,
    }
}

//! How two replies are brought to a comparable form: sorting for unordered
//! replies, masking fields that legitimately differ (ids, ports, versions),
//! shapes for `@type-only`.

use crate::case::Modifiers;
use crate::resp::Reply;

const MASKED: &[u8] = b"<masked>";

/// Applies `@mask`, `@keep`, `@sort-pairs` and `@sort`, in that order.
pub fn normalize(reply: Reply, mods: &Modifiers) -> Reply {
    let mut r = reply;
    if !mods.mask.is_empty() {
        r = filter_fields(r, &mods.mask, Filter::Mask);
    }
    if !mods.keep.is_empty() {
        r = filter_fields(r, &mods.keep, Filter::Keep);
    }
    if mods.sort_pairs {
        r = sort_pairs(r);
    }
    if mods.sort {
        r = deep_sort(r);
    }
    r
}

/// The reply with every scalar replaced by a fixed value of its type, so
/// that two shapes are equal when types and aggregate lengths are.
pub fn shape(reply: &Reply) -> Reply {
    match reply {
        Reply::Simple(_) => Reply::Simple(b"*".to_vec()),
        Reply::Error(_) => Reply::Error(b"*".to_vec()),
        Reply::Integer(_) => Reply::Integer(0),
        Reply::Bulk(_) => Reply::Bulk(b"*".to_vec()),
        Reply::Double(_) => Reply::Double(b"0".to_vec()),
        Reply::Boolean(_) => Reply::Boolean(false),
        Reply::BigNumber(_) => Reply::BigNumber(b"0".to_vec()),
        Reply::BulkError(_) => Reply::BulkError(b"*".to_vec()),
        Reply::Verbatim(f, _) => Reply::Verbatim(f.clone(), b"*".to_vec()),
        Reply::NilBulk | Reply::NilArray | Reply::Null => reply.clone(),
        Reply::Array(v) => Reply::Array(v.iter().map(shape).collect()),
        Reply::Set(v) => Reply::Set(v.iter().map(shape).collect()),
        Reply::Push(v) => Reply::Push(v.iter().map(shape).collect()),
        Reply::Map(p) => Reply::Map(p.iter().map(|(k, v)| (shape(k), shape(v))).collect()),
        Reply::Attribute(a, inner) => Reply::Attribute(
            a.iter().map(|(k, v)| (shape(k), shape(v))).collect(),
            Box::new(shape(inner)),
        ),
    }
}

/// `@range`: an integer within bounds.
pub fn in_range(reply: &Reply, lo: i64, hi: i64) -> bool {
    matches!(reply, Reply::Integer(n) if (lo..=hi).contains(n))
}

/// Sorts every aggregate, children first: the reply as a multiset.
pub fn deep_sort(reply: Reply) -> Reply {
    let sorted = |v: Vec<Reply>| {
        let mut v: Vec<Reply> = v.into_iter().map(deep_sort).collect();
        v.sort();
        v
    };
    match reply {
        Reply::Array(v) => Reply::Array(sorted(v)),
        Reply::Set(v) => Reply::Set(sorted(v)),
        Reply::Push(v) => Reply::Push(sorted(v)),
        Reply::Map(p) => {
            let mut p: Vec<_> = p
                .into_iter()
                .map(|(k, v)| (deep_sort(k), deep_sort(v)))
                .collect();
            p.sort();
            Reply::Map(p)
        }
        Reply::Attribute(a, inner) => Reply::Attribute(a, Box::new(deep_sort(*inner))),
        other => other,
    }
}

/// Sorts a flat `[k, v, k, v]` array by pairs, or a map by entries.
pub fn sort_pairs(reply: Reply) -> Reply {
    match reply {
        Reply::Array(v) if v.len() % 2 == 0 => {
            let mut pairs: Vec<(Reply, Reply)> = Vec::with_capacity(v.len() / 2);
            let mut it = v.into_iter();
            while let (Some(k), Some(val)) = (it.next(), it.next()) {
                pairs.push((k, val));
            }
            pairs.sort();
            Reply::Array(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect())
        }
        Reply::Map(mut p) => {
            p.sort();
            Reply::Map(p)
        }
        other => other,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Filter {
    Mask,
    Keep,
}

fn key_bytes(r: &Reply) -> Option<&[u8]> {
    match r {
        Reply::Simple(s) | Reply::Bulk(s) => Some(s),
        _ => None,
    }
}

/// Masks or keeps fields of a map, of a flat `[k, v, ...]` array, or of a
/// text made of `k=v` tokens (CLIENT INFO/LIST) or `k:v` lines (INFO).
fn filter_fields(reply: Reply, fields: &[Vec<u8>], how: Filter) -> Reply {
    let listed = |k: &[u8]| fields.iter().any(|f| f.eq_ignore_ascii_case(k));
    let apply_pairs = |pairs: Vec<(Reply, Reply)>| -> Vec<(Reply, Reply)> {
        pairs
            .into_iter()
            .filter_map(|(k, v)| {
                let hit = key_bytes(&k).is_some_and(listed);
                match how {
                    Filter::Mask if hit => Some((k, Reply::Bulk(MASKED.to_vec()))),
                    Filter::Mask => Some((k, v)),
                    Filter::Keep => hit.then_some((k, v)),
                }
            })
            .collect()
    };
    match reply {
        Reply::Map(p) => Reply::Map(apply_pairs(p)),
        Reply::Array(v)
            if v.len() % 2 == 0 && v.iter().step_by(2).all(|k| key_bytes(k).is_some()) =>
        {
            let mut pairs = Vec::with_capacity(v.len() / 2);
            let mut it = v.into_iter();
            while let (Some(k), Some(val)) = (it.next(), it.next()) {
                pairs.push((k, val));
            }
            Reply::Array(
                apply_pairs(pairs)
                    .into_iter()
                    .flat_map(|(k, v)| [k, v])
                    .collect(),
            )
        }
        Reply::Bulk(s) => Reply::Bulk(filter_text(&s, &listed, how)),
        Reply::Verbatim(f, s) => Reply::Verbatim(f, filter_text(&s, &listed, how)),
        other => other,
    }
}

fn filter_text(text: &[u8], listed: &dyn Fn(&[u8]) -> bool, how: Filter) -> Vec<u8> {
    let mut out_lines: Vec<Vec<u8>> = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut tokens: Vec<Vec<u8>> = Vec::new();
        for tok in line.split(|&b| b == b' ') {
            let sep = tok.iter().position(|&b| b == b'=' || b == b':');
            let hit = sep.is_some_and(|i| listed(&tok[..i]));
            match (how, sep) {
                (Filter::Mask, Some(i)) if hit => {
                    let mut t = tok[..=i].to_vec();
                    t.extend_from_slice(MASKED);
                    tokens.push(t);
                }
                (Filter::Mask, _) => tokens.push(tok.to_vec()),
                (Filter::Keep, _) if hit => tokens.push(tok.to_vec()),
                (Filter::Keep, _) => {}
            }
        }
        if how == Filter::Keep && tokens.is_empty() {
            continue;
        }
        out_lines.push(tokens.join(&b' '));
    }
    out_lines.join(&b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mods_with(f: impl FnOnce(&mut Modifiers)) -> Modifiers {
        let mut m = Modifiers::default();
        f(&mut m);
        m
    }

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(s.as_bytes().to_vec())
    }

    #[test]
    fn masks_maps_flat_arrays_and_texts() {
        let m = mods_with(|m| m.mask = vec![b"id".to_vec()]);
        let flat = Reply::Array(vec![
            bulk("id"),
            Reply::Integer(7),
            bulk("proto"),
            Reply::Integer(2),
        ]);
        assert_eq!(
            normalize(flat, &m).notation(),
            r#"["id", "<masked>", "proto", :2]"#
        );
        let text = bulk("id=7 addr=1.2.3.4:5 name=x\n");
        assert_eq!(
            normalize(text, &m).notation(),
            r#""id=<masked> addr=1.2.3.4:5 name=x\n""#
        );
        let k = mods_with(|m| m.keep = vec![b"name".to_vec(), b"db".to_vec()]);
        let text = bulk("id=7 name=x db=0\nid=8 name=y db=1\n");
        assert_eq!(
            normalize(text, &k).notation(),
            r#""name=x db=0\nname=y db=1""#
        );
    }

    #[test]
    fn sorts() {
        let r = Reply::Array(vec![
            bulk("b"),
            Reply::Array(vec![bulk("z"), bulk("y")]),
            bulk("a"),
        ]);
        assert_eq!(deep_sort(r).notation(), r#"["a", "b", ["y", "z"]]"#);
        let r = Reply::Array(vec![bulk("k2"), bulk("1"), bulk("k1"), bulk("2")]);
        assert_eq!(sort_pairs(r).notation(), r#"["k1", "2", "k2", "1"]"#);
    }
}

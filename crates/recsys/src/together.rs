//! Which shoppers interacted with each item: answers "how many shoppers had both of these items
//! in their history", the fact behind a "shoppers who looked at A also looked at B" sentence.

use crate::sequences::Sequences;

/// For each item, the shoppers (sequence indices, ascending, distinct) whose history holds it.
#[derive(Debug, Clone, Default)]
pub struct Together {
    shoppers: Vec<Vec<u32>>,
}

impl Together {
    /// Indexes every interaction of `data`, held-out items included (serving sees them all).
    pub fn fit(data: &Sequences) -> Self {
        let mut shoppers = vec![Vec::new(); data.n_items() + 1];
        for (u, seq) in data.iter().enumerate() {
            for &i in seq {
                let list: &mut Vec<u32> = &mut shoppers[i as usize];
                if list.last() != Some(&(u as u32)) {
                    list.push(u as u32);
                }
            }
        }
        Self { shoppers }
    }

    /// Shoppers whose history holds both `a` and `b` (0 for an unknown item).
    pub fn count(&self, a: u32, b: u32) -> usize {
        let (Some(a), Some(b)) = (self.shoppers.get(a as usize), self.shoppers.get(b as usize))
        else {
            return 0;
        };
        let (mut x, mut y, mut n) = (0, 0, 0);
        while x < a.len() && y < b.len() {
            match a[x].cmp(&b[y]) {
                std::cmp::Ordering::Less => x += 1,
                std::cmp::Ordering::Greater => y += 1,
                std::cmp::Ordering::Equal => {
                    n += 1;
                    x += 1;
                    y += 1;
                }
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_shoppers_not_interactions() {
        let data = Sequences::from_pairs([
            ("u1", "a"),
            ("u1", "b"),
            ("u1", "a"),
            ("u2", "a"),
            ("u2", "c"),
            ("u3", "b"),
            ("u3", "a"),
        ]);
        let t = Together::fit(&data);
        let (a, b, c) = (
            data.item_index("a").unwrap(),
            data.item_index("b").unwrap(),
            data.item_index("c").unwrap(),
        );
        assert_eq!(t.count(a, b), 2);
        assert_eq!(t.count(b, a), 2);
        assert_eq!(t.count(a, c), 1);
        assert_eq!(t.count(b, c), 0);
        assert_eq!(t.count(a, 999), 0);
    }
}

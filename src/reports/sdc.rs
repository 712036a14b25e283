//! Statistical disclosure control for aggregate outputs.
//!
//! **Primary suppression**: a count from 1 to the threshold is withheld (0 is shown: it reveals
//! no one). **Secondary suppression**: within each group of cells that add up to a total shown
//! beside them (a row of a table, the links into or out of a flow's node), a lone withheld cell
//! could be recovered by subtraction, so the next smallest cell of that group is withheld too;
//! this repeats until no group has exactly one withheld cell. Rates are withheld when their
//! numerator or denominator is.

/// Whether `n` is a small number under `threshold` (0 turns suppression off).
#[must_use]
pub fn is_small(n: u64, threshold: u64) -> bool {
    threshold > 0 && n > 0 && n <= threshold
}

/// Cells (by index) withheld from `values`: every small one, then more until no group in
/// `groups` (each a list of cell indexes summing to a shown total) holds exactly one withheld
/// cell. The extra cell chosen in a group is its smallest non-zero one not yet withheld.
#[must_use]
pub fn suppress(values: &[u64], groups: &[Vec<usize>], threshold: u64) -> Vec<bool> {
    let mut hidden: Vec<bool> = values.iter().map(|&v| is_small(v, threshold)).collect();
    if threshold == 0 {
        return hidden;
    }
    loop {
        let mut changed = false;
        for group in groups {
            if group.iter().filter(|&&i| hidden[i]).count() != 1 {
                continue;
            }
            // Zero cells reveal nothing when hidden, and show nothing when not: skip them.
            let next = group.iter().copied().filter(|&i| !hidden[i] && values[i] > 0).min_by_key(|&i| (values[i], i));
            if let Some(i) = next {
                hidden[i] = true;
                changed = true;
            }
        }
        if !changed {
            return hidden;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_counts_are_withheld_and_zero_is_not() {
        assert!(!is_small(0, 5));
        assert!(is_small(1, 5));
        assert!(is_small(5, 5));
        assert!(!is_small(6, 5));
        assert!(!is_small(3, 0));
    }

    #[test]
    fn a_lone_withheld_cell_takes_the_next_smallest_with_it() {
        // Row total 3 + 40 + 12 + 100 shown: 3 alone hidden would be total − the rest.
        let hidden = suppress(&[3, 40, 12, 100], &[vec![0, 1, 2, 3]], 5);
        assert_eq!(hidden, vec![true, false, true, false]);
    }

    #[test]
    fn secondary_suppression_spreads_until_every_group_is_safe() {
        // Cells 0..3 form one group, 2..5 another: hiding 2 in the first leaves it alone in the
        // second, which then hides 4 as well.
        let values = [2, 50, 9, 0, 30, 70];
        let hidden = suppress(&values, &[vec![0, 1, 2], vec![2, 3, 4, 5]], 5);
        assert_eq!(hidden, vec![true, false, true, false, true, false]);
        for g in [vec![0, 1, 2], vec![2, 3, 4, 5]] {
            assert_ne!(g.iter().filter(|&&i| hidden[i]).count(), 1);
        }
    }
}

//! Issue 17 item 6: labels are checked to be 0…m−1 before any work proportional to the largest
//! label. Before the fix one stray label of 2³²−1 in a 64² label image made the resampling's
//! vanished-label check cost 2³² × pixels (it never finished) and allocate 4 GB.

use cgkl::partition::check_dense;
/// The label check itself at u32::MAX (no image format here stores 2³²−1 in a pixel; an HDF5
/// label file can): O(n log n), no vector of length 2³².
#[test]
fn a_stray_huge_label_is_refused_without_work_of_its_size() {
    let mut labels = vec![0u32; 64 * 64];
    for (i, l) in labels.iter_mut().enumerate() {
        *l = (i % 3) as u32;
    }
    labels[100] = u32::MAX;
    let e = check_dense(&labels).unwrap_err().to_string();
    assert!(
        e.contains("label 3 never occurs") && e.contains("4294967295"),
        "{e}"
    );
    labels[100] = 1;
    assert_eq!(check_dense(&labels).unwrap(), 3);
}

#[test]
fn a_label_image_with_a_stray_label_fails_fast_in_validation() {
    // 64×64 PGM (P5, maxval 65535) with labels 0, 1 and one stray 65535, on a 32² grid (resampled)
    let d = std::env::temp_dir().join(format!("cgkl_stray_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let mut bytes = b"P5\n64 64\n65535\n".to_vec();
    for i in 0..64 * 64 {
        let v: u16 = if i == 777 { 65535 } else { (i / 2048) as u16 };
        bytes.extend_from_slice(&v.to_be_bytes());
    }
    let path = d.join("labels.pgm");
    std::fs::write(&path, bytes).unwrap();
    let mut c = cgkl::Config::default();
    c.grid.nx = 32;
    c.grid.ny = 32;
    c.partition = cgkl::config::PartitionConfig::Labels {
        file: path.display().to_string(),
        dataset: "labels".into(),
    };
    let e = match c.validate() {
        Ok(_) => panic!("a label image with a gap was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("labels.pgm") && e.contains("label 2 never occurs"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

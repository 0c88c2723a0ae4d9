//! Everything `greenlight commands` prints: each entry's commands under remarks saying what
//! it is, where it lives and how it is delivered, as one [`Sheet`] to paste.

use super::{Sheet, Shell, Target, for_entry};
use crate::shell::QuoteError;
use crate::spec::{Platform, SecretEntry};

/// Every command of `entries` on `platform`, each entry under a remark saying what it is,
/// where it lives, what it is for and how it is delivered. Fails with the entry's name when
/// one of its names cannot be written safely for `shell`.
pub fn sheet<'a>(
    entries: impl IntoIterator<Item = &'a SecretEntry>,
    platform: Platform,
    target: &Target,
    shell: Shell,
) -> Result<Sheet, (String, QuoteError)> {
    let mut sheet = Sheet::new(shell);
    for entry in entries {
        entry_sheet(&mut sheet, entry, platform, target).map_err(|e| (entry.name.clone(), e))?;
    }
    Ok(sheet)
}

fn entry_sheet(
    sheet: &mut Sheet,
    entry: &SecretEntry,
    platform: Platform,
    target: &Target,
) -> Result<(), QuoteError> {
    let location = entry.placement(platform).map(|p| p.describe()).unwrap_or_default();
    let group = entry.group().title().to_lowercase();
    sheet.remark(&format!("### {} ({group}): {location}", entry.name))?;
    sheet.remark(&entry.description)?;
    if !entry.when.is_empty() {
        sheet.remark(&format!("Needed when: {}", entry.when.join(" and ")))?;
    }
    if let Some(delivered) = &entry.delivered {
        for t in &delivered.targets {
            let when = if t.when.is_empty() {
                String::new()
            } else {
                format!(" (when {})", t.when.join(" and "))
            };
            sheet.remark(&format!(
                "Delivered by ExternalSecret {}/{} into key {} of Secret {}{when}; never create that Secret by hand",
                t.namespace,
                t.external_secret,
                t.fed.join(", "),
                t.secret
            ))?;
        }
        if let Some(command) = &delivered.create_with {
            sheet.remark(&format!(
                "The vendor's tool creates it: run `{command}` (or create it with the command below)"
            ))?;
        }
    }
    for fix in for_entry(entry, platform, target, sheet.shell)? {
        sheet.blank().remark(&format!("## {}", fix.kind.title()))?;
        sheet.command(&fix.text);
    }
    sheet.blank();
    Ok(())
}

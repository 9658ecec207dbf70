//! Interactive prompts (dialoguer, on stderr). Only asked when stdin and stderr are
//! terminals; otherwise every prompt fails with [`PromptError::NotInteractive`] and the
//! caller names the flags to pass instead.

use std::io::IsTerminal;

use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, MultiSelect, Password, Select};

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("cannot ask for {0}: stdin is not a terminal")]
    NotInteractive(String),
    #[error("prompt failed: {0}")]
    Failed(#[from] dialoguer::Error),
}

/// Asks questions when it may.
#[derive(Clone, Copy, Debug)]
pub struct Prompter {
    interactive: bool,
}

impl Prompter {
    /// Interactive when both stdin and stderr are terminals.
    pub fn detect() -> Self {
        Self {
            interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
        }
    }

    pub fn is_interactive(&self) -> bool {
        self.interactive
    }

    fn check(&self, what: &str) -> Result<(), PromptError> {
        if self.interactive {
            Ok(())
        } else {
            Err(PromptError::NotInteractive(what.to_owned()))
        }
    }

    /// A line of text, re-asked until `validate` accepts it; Enter alone takes `default`.
    pub fn text(
        &self,
        prompt: &str,
        default: Option<&str>,
        validate: impl Fn(&String) -> Result<(), String>,
    ) -> Result<String, PromptError> {
        self.check(prompt)?;
        let theme = ColorfulTheme::default();
        let mut input = Input::<String>::with_theme(&theme)
            .with_prompt(prompt)
            .validate_with(|s: &String| validate(s));
        if let Some(v) = default {
            input = input.default(v.to_owned());
        }
        Ok(input.interact_text()?)
    }

    /// An optional line of text (empty answer = none).
    pub fn optional_text(&self, prompt: &str) -> Result<Option<String>, PromptError> {
        self.check(prompt)?;
        let s: String = Input::with_theme(&ColorfulTheme::default())
            .with_prompt(prompt)
            .allow_empty(true)
            .interact_text()?;
        Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty()))
    }

    /// A secret, typed hidden.
    pub fn password(&self, prompt: &str) -> Result<String, PromptError> {
        self.check(prompt)?;
        Ok(Password::with_theme(&ColorfulTheme::default())
            .with_prompt(prompt)
            .validate_with(|s: &String| {
                if s.trim().is_empty() {
                    Err("the key cannot be empty")
                } else {
                    Ok(())
                }
            })
            .interact()?)
    }

    /// Pick one item.
    pub fn select(
        &self,
        prompt: &str,
        items: &[String],
        default: usize,
    ) -> Result<usize, PromptError> {
        self.check(prompt)?;
        Ok(Select::with_theme(&ColorfulTheme::default())
            .with_prompt(prompt)
            .items(items)
            .default(default)
            .interact()?)
    }

    /// Pick any number of items (all preselected).
    pub fn multi_select(&self, prompt: &str, items: &[String]) -> Result<Vec<usize>, PromptError> {
        self.check(prompt)?;
        let defaults = vec![true; items.len()];
        Ok(MultiSelect::with_theme(&ColorfulTheme::default())
            .with_prompt(prompt)
            .items(items)
            .defaults(&defaults)
            .interact()?)
    }

    /// Yes or no.
    pub fn confirm(&self, prompt: &str, default: bool) -> Result<bool, PromptError> {
        self.check(prompt)?;
        Ok(Confirm::with_theme(&ColorfulTheme::default())
            .with_prompt(prompt)
            .default(default)
            .interact()?)
    }
}

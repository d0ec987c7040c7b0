/* The search box's clear link (Flask-Admin draws it as a bare × icon) named in the page's language, from the
   body's data-clear-search; the menu's current page said so to the eye alone (its "active" class), as the app's
   menu says it to a screen reader too (aria-current). */
$(function () {
  var name = document.body.dataset.clearSearch;
  $('.input-group-text a:has(.fa-times)').attr({'aria-label': name, title: name});
  $('.navbar li.active > a.nav-link').attr('aria-current', 'page');
});

/* The back office's date pickers (Flask-Admin's daterangepicker, made when a date filter is added) in the page's
   language: the words come from the page's #picker-words (web/admin.py picker_words). Runs before Flask-Admin's
   own ready handlers, which make the pickers of filters already in the address. A date typed in the box is read
   once it is left (its change), not at every key: the picker read each key's partial date and wrote it back, so
   typing "2026-12-01" left "0002-01-01 00:00:00026-12-01", and Tab or Enter wrote back the date it was opened at,
   so the filter could not be used from the keyboard. */
$(function () {
  var words = document.getElementById('picker-words');
  var makePicker = $.fn.daterangepicker;
  if (!words || !makePicker) {
    return;
  }
  var locale = JSON.parse(words.textContent);
  function readTyped(box) {
    var picker = $(box).data('daterangepicker');
    if (picker) {
      picker.updateFromControl();
    }
    return picker;
  }
  $.fn.daterangepicker = function (options, callback) {
    var made = makePicker.call(this, $.extend({locale: locale}, options), callback);
    this.off('keyup.daterangepicker keydown.daterangepicker')
      .on('change.typed', function () { readTyped(this); })
      .on('keydown.daterangepicker', function (event) {  // Tab and Enter close the picker, as before, once the
        if (event.key === 'Tab' || event.key === 'Enter') {  // typed date is read (else it wrote its own back)
          var picker = readTyped(this);
          if (picker) {
            picker.hide();
          }
        }
      });
    return made;
  };
});

/* Names for the lists' controls that Flask-Admin draws as icons or leaves unlabelled (a screen reader read the view
   link as its icon font's character and the filter's value box as nothing), in the page's language from the body's
   data-* words: each row's icons and check box, the actions column's heading, and each filter row's remove link,
   condition and value, as they are made (a filter is added with "Add filter"). */
$(function () {
  var words = document.body.dataset;
  $('.model-list a.icon, .model-list form.icon button').each(function () {
    $(this).attr('aria-label', this.getAttribute('title') || '').children('span').attr('aria-hidden', 'true');
  });
  $('.model-list input.action-checkbox').attr('aria-label', words.selectRow);
  $('.model-list input.action-rowtoggle').each(function () {  // "select all": named by its title alone
    $(this).attr('aria-label', this.getAttribute('title') || '');
  });
  $('.model-list thead th').filter(function () {
    return !$(this).text().trim() && !$(this).find('input').length;
  }).append($('<span class="sr-only"></span>').text(words.actionsColumn));

  function nameFilters() {
    $('table.filters tr').each(function () {
      var name = $(this).find('.remove-filter').text().replace('\u00d7', '').trim();
      $(this).find('.remove-filter').attr('aria-label', words.removeFilter.replace('%s', name))
        .find('.close-icon').attr('aria-hidden', 'true');
      $(this).find('.select2-container').each(function () { nameMenu($(this), name); });
      $(this).find('input.filter-val').attr('aria-label', words.filterValue.replace('%s', name));
    });
  }

  /* A filter's condition or picked value (select2 draws a text box as a button): named by the filter and what it
     is, then what it holds ("Administrator: condition equals"); select2's own aria-labelledby named it by its
     choice alone ("equals", "Yes"), and took the place of an aria-label. */
  var labels = 0;
  function nameMenu(menu, name) {
    var what = (menu.hasClass('filter-op') ? words.filterCondition : words.filterValue).replace('%s', name);
    var chosen = menu.find('.select2-chosen').attr('id');  // none in an "in list" box: it lists its picks instead
    var label = menu.children('.filter-name');
    if (!label.length) {
      labels += 1;
      label = $('<span class="sr-only filter-name"></span>').attr('id', 'filter-name-' + labels).appendTo(menu);
    }
    if (label.text() !== what) { label.text(what); }  // unchanged: no mutation, so no endless re-naming
    menu.find('.select2-focusser, .select2-input').removeAttr('aria-label')
      .attr('aria-labelledby', chosen ? label.attr('id') + ' ' + chosen : label.attr('id'));
  }
  var filters = document.querySelector('table.filters');
  if (filters) {
    nameFilters();
    new MutationObserver(nameFilters).observe(filters, {childList: true, subtree: true});
  }
});

/* On a phone each row of a list is a compact card, each value after its column's name (static/admin.css): the
   names of the columns copied onto the cells as data-label, the cells with nothing in them marked "is-empty" (a
   card leaves them out), and the list marked "labelled" (without scripts a list stays a table that scrolls sideways
   in its own box). A details page's empty rows are marked too (a phone leaves them out). */
function isEmpty(cell) {
  return !cell.textContent.trim() && !cell.querySelector('img, input, button, svg');
}
$(function () {
  $('table.model-list').each(function () {
    var names = $(this).find('thead th').map(function () {
      return $(this).is('.column-header, [scope=col]') ? $(this).text().trim() : '';
    }).get();
    $(this).find('tbody tr').each(function () {
      $(this).children('td').each(function (index) {
        if (names[index] && !this.hasAttribute('colspan')) {
          this.dataset.label = names[index];
          $(this).toggleClass('is-empty', isEmpty(this));
        }
      });
    });
    $(this).addClass('labelled');
  });
  $('table.searchable tr').each(function () {
    var value = $(this).children('td').get(1);
    $(this).toggleClass('is-empty', Boolean(value) && isEmpty(value));
  });
});

/* A form's fields tied to what is written under them (Flask-Admin's field markup leaves them apart): its hint and,
   after a refused save, its reason (aria-describedby), a refused field marked invalid (aria-invalid), and the focus
   on the first of them, as the app's own forms do; a screen reader heard neither which field was refused nor why. */
$(function () {
  $('form .form-group').each(function () {
    var field = $(this).find('input, select, textarea').not('[type=hidden]').first();
    var notes = $(this).find('.invalid-feedback, small.form-text');
    if (!field.length || !field.attr('id')) {
      return;
    }
    var ids = notes.map(function (index) {
      this.id = this.id || field.attr('id') + '-note-' + index;
      return this.id;
    }).get();
    if (ids.length) {  // after any the field already names
      field.attr('aria-describedby', ((field.attr('aria-describedby') || '') + ' ' + ids.join(' ')).trim());
    }
    if (field.hasClass('is-invalid')) {
      field.attr('aria-invalid', 'true');
    }
  });
  $('form .is-invalid').first().trigger('focus');
});

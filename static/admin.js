/* The search box's clear link (Flask-Admin draws it as a bare × icon) named in the page's language, from the
   body's data-clear-search. */
$(function () {
  var name = document.body.dataset.clearSearch;
  $('.input-group-text a:has(.fa-times)').attr({'aria-label': name, title: name});
});

/* The back office's date pickers (Flask-Admin's daterangepicker, made when a date filter is added) in the page's
   language: the words come from the page's #picker-words (web/admin.py picker_words). Runs before Flask-Admin's
   own ready handlers, which make the pickers of filters already in the address. */
$(function () {
  var words = document.getElementById('picker-words');
  var makePicker = $.fn.daterangepicker;
  if (!words || !makePicker) {
    return;
  }
  var locale = JSON.parse(words.textContent);
  $.fn.daterangepicker = function (options, callback) {
    return makePicker.call(this, $.extend({locale: locale}, options), callback);
  };
});
